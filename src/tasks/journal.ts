import {
  clearRunIntent,
  type Db,
  type IterationRecord,
  listRunIntents,
  type RunIntent,
  recordIterations,
  writeRunIntents,
} from '../db/index.js';
import type { Logger } from '../log.js';
import { TransientError } from '../loop/index.js';
import type { RuntimeEvents } from './events.js';

// The run journal: what the runtime writes about each attempt of a task's run, in two halves.
// - Write-ahead: before a handler is called, its intent ("task T, slot S, started") is committed. The intents
//   of one tick share one transaction, in a microtask, and the handlers wait for it. An intent the database
//   refuses means the handler does not run: the attempt fails with a TransientError, so the loop retries it.
// - Write-behind: each finished attempt becomes a record (its run row, the task's progress, and the intent
//   deleted once the slot is settled), written in one transaction per tick. A batch the database refuses is
//   kept, ahead of newer records, and retried with backoff.
// A crash between the two leaves an intent with no record: start-up (TaskRuntime.resumeAll) runs that slot
// again with the same nonce, or records it as interrupted.

/** Retries of a batch of records that could not be written: 1 s doubling to 1 minute. */
const RECORD_RETRY_BASE_MS = 1_000;
const RECORD_RETRY_CAP_MS = 60_000;

/** Progress a record would have saved, per task: what shutdown names when it cannot be written. */
export interface UnsavedProgress {
  runs: number;
  tasks: Record<number, Pick<IterationRecord, 'currentLoop' | 'lastRunAt' | 'nextRunAt'>>;
}

export class RunJournal {
  readonly #db: Db;
  readonly #log: Logger;
  /** This tick's intents, and the promise their handlers wait on (undefined when none is queued). */
  #intents: RunIntent[] = [];
  #intentsWritten: Promise<void> | undefined;
  #pending: IterationRecord[] = [];
  #flushQueued = false;
  /** Consecutive failed writes of #pending, and the timer of the next try (see #flush). */
  #failures = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  readonly #events: RuntimeEvents;

  constructor(db: Db, log: Logger, events: RuntimeEvents) {
    this.#db = db;
    this.#log = log;
    this.#events = events;
  }

  /** Records waiting to be written: this tick's, or a batch the database refused, kept for its retry. */
  get queued(): number {
    return this.#pending.length;
  }

  #wrote(what: 'intents' | 'records', rows: number, startedMs: number, ok: boolean): void {
    if (this.#events.listenerCount('journalWrite') === 0) return;
    const durationMs = performance.now() - startedMs;
    this.#events.emit('journalWrite', { what, rows, durationMs, ok, queued: this.#pending.length });
  }

  /**
   * Write-ahead: queues the attempt's intent with the rest of this tick's and resolves once they are
   * committed, so the handler may be called. Rejects with a TransientError if the database refuses them.
   */
  begin(intent: RunIntent): Promise<void> {
    this.#intents.push(intent);
    this.#intentsWritten ??= new Promise<void>((resolve, reject) => {
      queueMicrotask(() => {
        const batch = this.#intents;
        this.#intents = [];
        this.#intentsWritten = undefined;
        const startedMs = performance.now();
        try {
          writeRunIntents(this.#db, batch);
          this.#wrote('intents', batch.length, startedMs, true);
          resolve();
        } catch (error) {
          this.#wrote('intents', batch.length, startedMs, false);
          this.#log.error({ err: error, runs: batch.length }, 'could not record that task runs started');
          reject(
            new TransientError(
              `the database did not take the start of this run (${errorText(error)}), so it was not run`,
              { cause: error },
            ),
          );
        }
      });
    });
    return this.#intentsWritten;
  }

  /** Write-behind: queues a finished attempt, written at the end of the tick (or with the backlog). */
  record(record: IterationRecord): void {
    this.#pending.push(record);
    // While a failed batch waits for its retry, new records join it there instead of hammering the disk.
    if (!this.#flushQueued && this.#retryTimer === undefined) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushCallback);
    }
  }

  /**
   * Writes the records queued so far, trying at once any that failed before. Returns whether everything is
   * saved.
   */
  flush(): boolean {
    return this.#flush();
  }

  /**
   * Records written now, in the caller's transaction if there is one, or an exception: start-up settles the
   * slots a crash interrupted this way, before it starts any loop.
   */
  recordNow(records: readonly IterationRecord[]): void {
    recordIterations(this.#db, records);
  }

  /** The attempts a previous process started and never settled. */
  openIntents(): RunIntent[] {
    return listRunIntents(this.#db);
  }

  /** Forgets the task's open attempt, if any: a restart from zero disowns the old run's slot. */
  forgetIntent(taskId: number): void {
    clearRunIntent(this.#db, taskId);
  }

  /**
   * Brings a task's records still waiting to be written (the database refused them) into line with a
   * command's write: written later, they would put back the progress the command replaced (a restart's
   * count, a stop's "no next run"). Only the fields the command set change; the run rows stay as history.
   * Records made after the command follow on from it.
   */
  rebase(
    taskId: number,
    progress: Partial<Pick<IterationRecord, 'currentLoop' | 'nextRunAt' | 'lastError'>>,
  ): void {
    for (const record of this.#pending) if (record.taskId === taskId) Object.assign(record, progress);
  }

  /** The task's progress in its newest record still waiting to be written, if any: ahead of its row. */
  pendingCurrentLoop(taskId: number): number | undefined {
    for (let i = this.#pending.length - 1; i >= 0; i--) {
      const record = this.#pending[i]!;
      if (record.taskId === taskId) return record.currentLoop;
    }
    return undefined;
  }

  /**
   * Stops retrying in the background and writes what is left once more. Returns what could not be saved,
   * or undefined when everything is.
   */
  close(): UnsavedProgress | undefined {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    return this.#flush() ? undefined : this.#unsavedProgress();
  }

  // A flush() since the record was queued has already written it (or kept it for the retry).
  readonly #flushCallback = (): void => void (this.#flushQueued && this.#flush());

  readonly #retryCallback = (): void => {
    this.#retryTimer = undefined;
    this.#flush();
  };

  /**
   * Writes the pending records; returns whether all are saved. A batch that cannot be written (disk full,
   * SQLITE_BUSY past the busy timeout) is kept, ahead of newer records, and retried with a bounded backoff:
   * losing it would leave progress stale, and a later restart could re-run slots after Discord's nonce
   * window has closed (a double post).
   */
  #flush(): boolean {
    this.#flushQueued = false;
    if (this.#pending.length === 0) return true;
    const batch = this.#pending;
    this.#pending = [];
    const startedMs = performance.now();
    try {
      recordIterations(this.#db, batch);
      this.#wrote('records', batch.length, startedMs, true);
    } catch (error) {
      // recordIterations is synchronous, so nothing newer arrived meanwhile: the batch is the whole backlog.
      this.#pending = batch;
      this.#wrote('records', batch.length, startedMs, false);
      this.#failures++;
      const retryInMs = Math.min(RECORD_RETRY_CAP_MS, RECORD_RETRY_BASE_MS * 2 ** (this.#failures - 1));
      this.#log.error(
        { err: error, runs: batch.length, attempt: this.#failures, retryInMs },
        'could not record task runs; keeping them to retry',
      );
      if (!this.#closed) {
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(this.#retryCallback, retryInMs);
      }
      return false;
    }
    if (this.#failures > 0) {
      this.#log.warn({ runs: batch.length, failures: this.#failures }, 'recorded task runs after retrying');
      this.#failures = 0;
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
    return true;
  }

  /** The last unsaved progress of each task in the backlog, for the fatal line at shutdown. */
  #unsavedProgress(): UnsavedProgress {
    const tasks: UnsavedProgress['tasks'] = {};
    for (const { taskId, currentLoop, lastRunAt, nextRunAt } of this.#pending) {
      const known = tasks[taskId];
      tasks[taskId] = { currentLoop, lastRunAt: lastRunAt ?? known?.lastRunAt ?? null, nextRunAt };
    }
    return { runs: this.#pending.length, tasks };
  }
}

/**
 * The record of an attempt a crash interrupted, settled without being run again: its outcome is unknown, so
 * it has no error, and it counts as done (`progress`: see settledProgress()), so a count is never exceeded.
 * It finished "now", when it was found.
 */
export function interruptedRecord(
  intent: RunIntent,
  progress: { currentLoop: number; lastRunAt: number },
  nextRunAt: number | null,
  nowMs: number,
): IterationRecord {
  return {
    taskId: intent.taskId,
    scheduledAt: intent.scheduledAt,
    startedAt: intent.startedAt,
    finishedAt: nowMs,
    outcome: 'interrupted',
    error: null,
    currentLoop: progress.currentLoop,
    lastRunAt: progress.lastRunAt,
    nextRunAt,
    lastError: null,
    settlesSlot: true,
  };
}

/** The record of a one-off's slot that passed while the bot was down or stalled (catch-up skip): not a run. */
export function missedRecord(
  task: { id: number; currentLoop: number; nextRunAt: number | null },
  nowMs: number,
): IterationRecord {
  const scheduledAt = task.nextRunAt ?? nowMs;
  return {
    taskId: task.id,
    scheduledAt,
    startedAt: nowMs,
    finishedAt: nowMs,
    outcome: 'missed',
    error: null,
    currentLoop: task.currentLoop,
    lastRunAt: null,
    nextRunAt: null,
    lastError: null,
    settlesSlot: true,
  };
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
