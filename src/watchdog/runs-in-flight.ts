// What the watchdog reads and writes in the database, from its own connection: the runs in flight (the
// write-ahead records in run_intents, with their tasks), and the quarantine of the task that blocked the bot.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type Sqlite from 'better-sqlite3';
import { type LockScope, WHOLE_DATABASE } from '../db/lock.js';

export interface RunInFlight {
  taskId: number;
  guildId: string;
  name: string;
  kind: string;
  /** The slot being run, and when its first attempt started (ms since the epoch). */
  scheduledAt: number;
  startedAt: number;
  iteration: number;
}

/**
 * Every run in flight of the servers on `shards` (default: all), oldest first. Other processes' runs are
 * theirs to watch: a stall here never fails them.
 */
export function readRunsInFlight(sqlite: Sqlite.Database, shards: LockScope = WHOLE_DATABASE): RunInFlight[] {
  const columns =
    'SELECT t.id AS taskId, t.guild_id AS guildId, t.name, t.kind, i.scheduled_at AS scheduledAt, ' +
    'i.started_at AS startedAt, i.iteration FROM run_intents i JOIN tasks t ON t.id = i.task_id';
  const order = ' ORDER BY i.started_at, t.id';
  if (shards.ids.length === shards.count) return sqlite.prepare(columns + order).all() as RunInFlight[];
  // Discord's (guild_id >> 22) % count, in SQLite's 64-bit integers (snowflakes are below 2^63).
  return sqlite
    .prepare(
      `${columns} WHERE ((CAST(t.guild_id AS INTEGER) >> 22) % ?) IN (SELECT value FROM json_each(?))${order}`,
    )
    .all(shards.count, JSON.stringify(shards.ids)) as RunInFlight[];
}

/** `"standup" (reminder, guild 123)`, for log lines. */
export function describeRun(run: RunInFlight): string {
  return `"${run.name}" (${run.kind}, guild ${run.guildId})`;
}

/** The error `/task info` shows for a task quarantined after a fatal stall: what happened, what to do. */
export function quarantineError(run: RunInFlight, all: readonly RunInFlight[], blockedMs: number): string {
  const blocked = formatSeconds(blockedMs);
  if (all.length === 1) {
    return (
      `its run blocked the bot for ${blocked} (the bot restarted and stopped this task); fix the ` +
      `"${run.kind}" handler, then /task start ${run.name}`
    );
  }
  const others = all.filter((other) => other !== run).map((other) => other.name);
  return (
    `its run was in flight, with ${others.join(', ')}, when one of them blocked the bot for ${blocked} (the ` +
    'bot restarted and stopped them all, as it cannot tell which); fix that handler, then /task start each'
  );
}

/**
 * Puts the tasks of `runs` in `failed` with an error an admin can act on, so that the next start does not
 * run them (and block the bot) again. Their run_intents rows stay: the runtime records those runs as
 * interrupted at its next start. Returns how many tasks changed (a task no longer running is left alone).
 */
export function quarantine(
  sqlite: Sqlite.Database,
  runs: readonly RunInFlight[],
  blockedMs: number,
  nowMs: number,
): number {
  return applyQuarantine(sqlite, quarantineEntries(runs, blockedMs), nowMs);
}

/** One task to quarantine and the error it gets. */
export interface QuarantineEntry {
  taskId: number;
  error: string;
}

export function quarantineEntries(runs: readonly RunInFlight[], blockedMs: number): QuarantineEntry[] {
  return runs.map((run) => ({ taskId: run.taskId, error: quarantineError(run, runs, blockedMs) }));
}

function applyQuarantine(
  sqlite: Sqlite.Database,
  entries: readonly QuarantineEntry[],
  nowMs: number,
): number {
  const update = sqlite.prepare(
    "UPDATE tasks SET state = 'failed', last_error = ?, next_run_at = NULL, updated_at = ? " +
      "WHERE id = ? AND state = 'running'",
  );
  return sqlite.transaction(() =>
    entries.reduce((changed, entry) => changed + update.run(entry.error, nowMs, entry.taskId).changes, 0),
  )();
}

/**
 * Where the watchdog leaves the quarantine when it cannot write it: the stall is inside a write transaction
 * of the main thread, whose lock only goes with the process. The next start applies it (applyPendingQuarantine).
 */
export function pendingQuarantinePath(databasePath: string, shards: LockScope = WHOLE_DATABASE): string {
  // Per process when the shards are spread: each process applies its own, never another's.
  if (shards.count === 1) return `${databasePath}.quarantine.json`;
  const ids = [...shards.ids].sort((a, b) => a - b).join('-');
  return `${databasePath}.quarantine-shards-${ids}-of-${shards.count}.json`;
}

export function writePendingQuarantine(
  databasePath: string,
  entries: readonly QuarantineEntry[],
  shards: LockScope = WHOLE_DATABASE,
): void {
  const path = pendingQuarantinePath(databasePath, shards);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(entries)}\n`);
  renameSync(`${path}.tmp`, path); // whole or absent, whenever the process dies
}

/**
 * At start-up, before any task is resumed: applies a quarantine the watchdog could not write, then removes
 * it. Returns the ids of the tasks put in `failed`.
 */
export function applyPendingQuarantine(
  sqlite: Sqlite.Database,
  databasePath: string,
  nowMs: number,
  shards: LockScope = WHOLE_DATABASE,
): number[] {
  const path = pendingQuarantinePath(databasePath, shards);
  if (!existsSync(path)) return [];
  const entries = JSON.parse(readFileSync(path, 'utf8')) as QuarantineEntry[];
  const failed = entries.filter((entry) => applyQuarantine(sqlite, [entry], nowMs) > 0).map((e) => e.taskId);
  rmSync(path);
  return failed;
}

/** 30120 → "30 s", 2540 → "2.5 s". */
export function formatSeconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 100) / 10} s`;
}
