// The loop engine's public types: its options, the callback's context, and what observers are told.
import type { DurationUnits, ScheduleOptions } from './schedule.js';

export interface LoopOptions extends ScheduleOptions {
  /** Iterations to run before the loop completes; null or omitted runs forever. */
  count?: number | null;
  /** Retry handled errors with exponential backoff (default true); when false they fail the loop. */
  reconnect?: boolean;
  /** Used in logs; defaults to the callback's name. */
  name?: string;
  /**
   * How long a slot that hit handled errors may keep being retried, counted from its first attempt (the
   * units are summed, as in the schedule). Once the next retry would start later than that, the slot is
   * given up: observers get `iterationEnd` with outcome 'error' and `gaveUp: true`, `currentLoop` is not
   * advanced, and the loop goes on with the next slot after now (missed slots skipped, as after an
   * overrun). The loop does not fail and onError is not called. Null or omitted: retry for as long as it
   * takes, as discord.py does.
   */
  retryWindow?: RetryWindow | null;
  /**
   * A slot whose time passed while the process was not looking (a wall-clock jump forward, a stalled event
   * loop; see MISSED_AFTER_MS): 'skip' (default) goes on with the next slot after now, 'once' runs that slot
   * late, once, then goes on with the next slot after now. The same policies a persisted task applies after
   * downtime. The first slot of a run (start(), or resume() with a past `firstDueAt`) always runs.
   */
  catchUp?: CatchUpPolicy;
}

export type CatchUpPolicy = 'skip' | 'once';

/** A duration for `retryWindow`: seconds, minutes and hours, summed; zero gives up at the first error. */
export type RetryWindow = DurationUnits;

/** The last argument of every call of the loop callback. */
export interface LoopContext {
  /** Aborted by `cancel()` (and so by `restart()`). */
  signal: AbortSignal;
  /** Zero-based index of this iteration (equals `currentLoop` while it runs). */
  iteration: number;
  /** The slot this iteration was due at; stays the same across retries. */
  scheduledAt: Date;
}

export type LoopCallback<A extends unknown[]> = (...args: [...A, LoopContext]) => unknown;
export type LoopHook = () => unknown;
export type LoopErrorHook = (error: unknown) => unknown;

/** Where a persisted loop left off, for `resume()`. */
export interface ResumeState {
  /** Iterations already completed; the count continues from here. */
  currentLoop: number;
  /** When the first iteration of this run is due (in the past means now); default as for `start()`. */
  firstDueAt?: Date | number;
}

export type IterationOutcome = 'ok' | 'error' | 'retried' | 'cancelled';
export type LoopEndReason = 'stopped' | 'cancelled' | 'completed' | 'failed';

export interface IterationStartInfo {
  iteration: number;
  scheduledAt: Date;
  startedAt: Date;
}

export interface IterationEndInfo extends IterationStartInfo {
  finishedAt: Date;
  /** 'retried': a handled error, the same iteration runs again at `nextIteration`. */
  outcome: IterationOutcome;
  error?: unknown;
  /** When the loop next runs (the retry for 'retried'); null when it will not. */
  nextIteration: Date | null;
  /**
   * Set on an 'error' that did not end the loop: a handled error whose retries would have gone past the
   * loop's `retryWindow`, so the slot was given up and the loop goes on at `nextIteration`.
   */
  gaveUp?: true;
}

/** A slot skipped because it was seen too late (see `LoopOptions.catchUp`). */
export interface SlotMissedInfo {
  /** The first slot skipped; later slots before `nextIteration` were skipped with it. */
  scheduledAt: Date;
  /** When the loop runs next; null when no slot is left (a one-off), and the loop completes. */
  nextIteration: Date | null;
}

/** Notified of every attempt and of the end of each run. Exceptions thrown here are logged and ignored. */
export interface LoopObserver {
  iterationStart?(info: IterationStartInfo): void;
  iterationEnd?(info: IterationEndInfo): void;
  slotMissed?(info: SlotMissedInfo): void;
  end?(reason: LoopEndReason, error?: unknown): void;
}
