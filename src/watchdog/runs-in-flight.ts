// What the watchdog reads and writes in the database, from its own connection: the runs in flight (the
// write-ahead records in run_intents, with their tasks), and the quarantine of the task that blocked the bot.
import type Sqlite from 'better-sqlite3';

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

/** Every run in flight, oldest first. */
export function readRunsInFlight(sqlite: Sqlite.Database): RunInFlight[] {
  return sqlite
    .prepare(
      'SELECT t.id AS taskId, t.guild_id AS guildId, t.name, t.kind, i.scheduled_at AS scheduledAt, ' +
        'i.started_at AS startedAt, i.iteration FROM run_intents i JOIN tasks t ON t.id = i.task_id ' +
        'ORDER BY i.started_at, t.id',
    )
    .all() as RunInFlight[];
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
  const update = sqlite.prepare(
    "UPDATE tasks SET state = 'failed', last_error = ?, next_run_at = NULL, updated_at = ? " +
      "WHERE id = ? AND state = 'running'",
  );
  return sqlite.transaction(() =>
    runs.reduce(
      (changed, run) =>
        changed + update.run(quarantineError(run, runs, blockedMs), nowMs, run.taskId).changes,
      0,
    ),
  )();
}

/** 30120 → "30 s", 2540 → "2.5 s". */
export function formatSeconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 100) / 10} s`;
}
