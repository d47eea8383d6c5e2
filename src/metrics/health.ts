// /healthz: the bot is healthy when the gateway is ready, the database takes writes and the event loop is
// not stalled. Each check answers undefined (fine) or a short reason such as
// `gateway: reconnecting for 2m13s (attempt 14)`; the reasons of every failing check make the one line.
import { setTimeout as sleep } from 'node:timers/promises';
import type Sqlite from 'better-sqlite3';
import { probeWriteLock } from '../db/stats.js';
import type { JournalWriteEvent, RuntimeEvents } from '../tasks/events.js';

/** One part of the bot's health: undefined when fine, else the reason, prefixed with what it is about. */
export type HealthCheck = () => string | undefined | Promise<string | undefined>;

/** Runs every check; undefined when all pass, else their reasons joined into one line. */
export async function checkHealth(checks: readonly HealthCheck[]): Promise<string | undefined> {
  const reasons = await Promise.all(checks.map((check) => check()));
  const failing = reasons.filter((reason): reason is string => reason !== undefined);
  return failing.length === 0 ? undefined : failing.join('; ');
}

/** `2m13s`, `45s`, `1h02m`: an outage's length for a log line or a health reason. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

export interface DatabaseHealthOptions {
  sqlite: Sqlite.Database;
  /** The runtime's event stream: a journal that keeps failing to write is unhealthy even if a probe passes. */
  events?: RuntimeEvents;
  queuedRecords?: () => number;
  /** How long another writer may hold the lock before the database counts as not writable. */
  busyGraceMs?: number;
  /** How long run-journal writes may keep failing (busy, retried) before the database counts as unhealthy. */
  journalGraceMs?: number;
  now?: () => number;
}

export interface DatabaseHealth {
  check: HealthCheck;
  stop(): void;
}

/**
 * The database check: SQLite's write lock can be taken (a read-only, full or vanished file cannot), waiting
 * for another writer only between probes, never inside one; and the run journal is not failing for long.
 */
export function watchDatabaseHealth(options: DatabaseHealthOptions): DatabaseHealth {
  const { sqlite, events } = options;
  const busyGraceMs = options.busyGraceMs ?? 250;
  const journalGraceMs = options.journalGraceMs ?? 30_000;
  const now = options.now ?? Date.now;
  let failingSince: number | undefined;
  const onWrite = (event: JournalWriteEvent): void => {
    if (event.ok) failingSince = undefined;
    else failingSince ??= now();
  };
  events?.on('journalWrite', onWrite);

  const check: HealthCheck = async () => {
    // SQLite lets a read-only connection take the write lock; it only fails at the first write.
    if (sqlite.readonly) return 'database: opened read-only';
    const started = now();
    let probe = probeWriteLock(sqlite);
    while (!probe.writable && probe.busy && now() - started < busyGraceMs) {
      await sleep(20);
      probe = probeWriteLock(sqlite);
    }
    if (!probe.writable) {
      if (probe.busy) return `database: locked by another writer for over ${busyGraceMs} ms`;
      return `database: cannot write (${errorText(probe.error)})`;
    }
    if (failingSince !== undefined && now() - failingSince >= journalGraceMs) {
      const queued = options.queuedRecords?.();
      const waiting = queued === undefined ? '' : ` (${queued} run records waiting)`;
      return `database: run-journal writes failing for ${formatDuration(now() - failingSince)}${waiting}`;
    }
    return undefined;
  };
  return { check, stop: () => events?.off('journalWrite', onWrite) };
}

function errorText(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}

export interface EventLoopHealthOptions {
  /** A delay this long counts as a stall. Default 1 s. */
  stallMs?: number;
  /** A stall is reported for this long after it ended. Default 60 s. */
  windowMs?: number;
  /** How often the loop is sampled. Default 500 ms. */
  sampleEveryMs?: number;
}

export interface EventLoopHealth {
  check: HealthCheck;
  stop(): void;
}

/**
 * Watches for event-loop stalls with a repeating timer: a tick that comes later than due by more than
 * `stallMs` is a stall. A request answered at all proves the loop runs now, so what /healthz can say is
 * whether it stalled recently. (The event-loop lag metrics come from prom-client's own monitor.)
 */
export function watchEventLoop(options: EventLoopHealthOptions = {}): EventLoopHealth {
  const stallMs = options.stallMs ?? 1_000;
  const windowMs = options.windowMs ?? 60_000;
  const sampleEveryMs = options.sampleEveryMs ?? 500;
  let lastTick = performance.now();
  let worst: { at: number; ms: number } | undefined;
  const sampler = setInterval(() => {
    const now = performance.now();
    const lateMs = now - lastTick - sampleEveryMs;
    lastTick = now;
    if (lateMs <= stallMs) return;
    if (worst === undefined || now - worst.at > windowMs || lateMs >= worst.ms)
      worst = { at: now, ms: lateMs };
  }, sampleEveryMs);
  sampler.unref();
  const check: HealthCheck = () => {
    if (worst === undefined || performance.now() - worst.at > windowMs) return undefined;
    return `event loop: stalled for ${(worst.ms / 1000).toFixed(1)} s within the last ${formatDuration(windowMs)}`;
  };
  return { check, stop: () => clearInterval(sampler) };
}
