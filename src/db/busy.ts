// Waiting out a busy database without freezing the bot. better-sqlite3 is synchronous, so SQLite's own
// busy_timeout blocks the event loop for as long as it waits; the connection keeps that wait short (about
// 100 ms) and the longer wait happens here, between attempts, on timers, while the bot goes on answering.
import { ExponentialBackoff } from '../loop/index.js';
import { isDatabaseBusy } from './errors.js';

/**
 * How long a command keeps retrying a busy database: with the last attempt's own busy wait and the reply,
 * the member still hears back well inside Discord's 3 seconds.
 */
export const BUSY_RETRY_BUDGET_MS = 2_000;
/** The first pause after SQLITE_BUSY; it doubles (with jitter) up to BUSY_RETRY_MAX_DELAY_MS. */
export const BUSY_RETRY_BASE_DELAY_MS = 25;
export const BUSY_RETRY_MAX_DELAY_MS = 400;
/**
 * How long start-up (TaskRuntime.resumeAll) keeps retrying while other shard processes on the same file hold
 * the write lock: no member waits on it, and giving up would stop the process.
 */
export const STARTUP_BUSY_BUDGET_MS = 30_000;

export interface BusyRetryOptions {
  /** Give up once the next attempt would start this long after the first (default BUSY_RETRY_BUDGET_MS). */
  budgetMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** The database stayed busy through every retry; `cause` is SQLite's last error. */
export class DatabaseBusyError extends Error {
  override readonly name = 'DatabaseBusyError';

  constructor(
    readonly attempts: number,
    readonly waitedMs: number,
    options: { cause: unknown },
  ) {
    super(
      `the database stayed busy (locked by another connection) through ${attempts} attempts over ${waitedMs} ms`,
      options,
    );
  }
}

/**
 * Runs `operation` (synchronous database work, or an async function around it) and, while it fails with
 * SQLITE_BUSY or SQLITE_LOCKED, runs it again after an async backoff, until the budget is spent; then
 * throws DatabaseBusyError. Any other error, and a DatabaseBusyError from a retry nested inside, is
 * thrown at once. The operation must be safe to repeat after a busy failure (a transaction that rolled
 * back, a read).
 */
export async function retryWhileBusy<T>(
  operation: () => T | Promise<T>,
  options: BusyRetryOptions = {},
): Promise<T> {
  const budgetMs = options.budgetMs ?? BUSY_RETRY_BUDGET_MS;
  const backoff = new ExponentialBackoff(
    options.baseDelayMs ?? BUSY_RETRY_BASE_DELAY_MS,
    options.maxDelayMs ?? BUSY_RETRY_MAX_DELAY_MS,
  );
  const startedAt = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof DatabaseBusyError || !isDatabaseBusy(error)) throw error;
      const waitedMs = Date.now() - startedAt;
      const delayMs = backoff.nextDelayMs();
      if (waitedMs + delayMs > budgetMs) throw new DatabaseBusyError(attempt, waitedMs, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
