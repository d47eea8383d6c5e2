// The state of one run of a Loop (start → end), and the helpers that settle what a run awaits. Split from
// loop.ts so that file keeps to the lifecycle.
import { LoopCancelledError } from './errors.js';
import type { Loop } from './loop.js';
import { TimerEntry } from './timer-queue.js';
import type { LoopContext } from './types.js';

/** Marks an attempt that threw, so `undefined` can mean success. */
export class Failure {
  constructor(readonly error: unknown) {}
}
export const CANCELLED = Symbol('cancelled');
export type Settled = undefined | Failure | typeof CANCELLED;

const STOP_REQUESTED = 1;
const CANCEL_REQUESTED = 2;
const ENDING = 4;
const PARKED = 8;
const OWED = 16;
export const withFlag = (flags: number, bit: number, on: boolean): number =>
  on ? flags | bit : flags & ~bit;
/** Lets a Run (outside the class) call Loop's private timer handler; see handleRunTimers. */
let onRunTimer: (run: Run<never>) => void;

/** Called once, from Loop's static block, with the handler every Run's timer calls. */
export function handleRunTimers(handler: (run: Run<never>) => void): void {
  onRunTimer = handler;
}

/**
 * State of one run (start → end). A fresh object per run, so a cancelled run's leftovers cannot touch the
 * next one. It is its own timer-queue entry: a parked loop costs this object and nothing more.
 */
export class Run<A extends unknown[]> extends TimerEntry {
  // The flags share one field: each field is a slot in each of 100,000 parked runs.
  #flags = 0;
  get stopRequested(): boolean {
    return (this.#flags & STOP_REQUESTED) !== 0;
  }
  set stopRequested(value: boolean) {
    this.#flags = withFlag(this.#flags, STOP_REQUESTED, value);
  }
  get cancelRequested(): boolean {
    return (this.#flags & CANCEL_REQUESTED) !== 0;
  }
  set cancelRequested(value: boolean) {
    this.#flags = withFlag(this.#flags, CANCEL_REQUESTED, value);
  }
  /** Set once #end has begun; later stop()/cancel() calls have nothing left to interrupt. */
  get ending(): boolean {
    return (this.#flags & ENDING) !== 0;
  }
  set ending(value: boolean) {
    this.#flags = withFlag(this.#flags, ENDING, value);
  }
  /** True while waiting in the timer queue for the next slot. */
  get parked(): boolean {
    return (this.#flags & PARKED) !== 0;
  }
  set parked(value: boolean) {
    this.#flags = withFlag(this.#flags, PARKED, value);
  }
  /** The parked slot runs however late it is seen: the run's first slot, already due when parked. */
  get owed(): boolean {
    return (this.#flags & OWED) !== 0;
  }
  set owed(value: boolean) {
    this.#flags = withFlag(this.#flags, OWED, value);
  }
  /** Origin of the relative slot grid. */
  anchorMs = 0;
  /** Slot of the iteration running or last run; -Infinity before the first. Slots are wall-clock instants. */
  lastDueMs = Number.NEGATIVE_INFINITY;
  /** The next slot (or retry); NaN when there is none. */
  nextDueMs = Number.NaN;
  /** The attempt in flight's controller, created only if its callback reads ctx.signal. */
  controller: AbortController | null = null;
  /** The context of the attempt in flight; null between attempts. */
  liveContext: LoopContext | null = null;
  /** Wakes a backoff wait: true when due, false when stopped or cancelled. */
  retryWake: ((due: boolean) => void) | null = null;
  /** Gives up on the hook or callback being awaited (cancel). */
  interrupt: (() => void) | null = null;
  finish!: () => void;

  constructor(
    readonly loop: Loop<A>,
    readonly args: A,
  ) {
    super();
  }

  fire(): void {
    onRunTimer(this as unknown as Run<never>);
  }
}

export function cancelReason(): DOMException {
  return new LoopCancelledError();
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Calls `fn`, turning a synchronous throw into a Failure so callers handle both the same way. */
export function callSafely<P extends unknown[]>(fn: (...args: P) => unknown, ...args: P): unknown {
  try {
    return fn(...args);
  } catch (error) {
    return new Failure(error);
  }
}

/** Awaits a hook result without cancellation (afterLoop and the error hook always run to the end). */
export async function settleAlways(result: unknown): Promise<Settled> {
  if (result instanceof Failure) return result;
  try {
    await result;
    return undefined;
  } catch (error) {
    return new Failure(error);
  }
}
