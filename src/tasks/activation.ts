// One run of one task's Loop, and the callbacks through which it reports to the runtime that owns it.
import type { Task, TaskTiming } from '../db/index.js';
import {
  type IterationEndInfo,
  type Loop,
  type LoopContext,
  type LoopEndReason,
  type LoopObserver,
  loop,
  type SlotMissedInfo,
} from '../loop/index.js';
import { toLoopOptions } from './schedule.js';

/**
 * How long one run (one slot) is retried after passing errors (its timeout, network, Discord 5xx) before
 * it is given up and the task moves on to its next slot. Shorter than the few minutes within which
 * Discord drops a post repeating a nonce: an attempt abandoned at its timeout may still post, and every
 * retry posts again with the same nonce, so retries past Discord's window would show up as new messages.
 */
export const RUN_RETRY_WINDOW_MINUTES = 2;
export const RUN_RETRY_WINDOW = Object.freeze({ minutes: RUN_RETRY_WINDOW_MINUTES });
export const RUN_RETRY_WINDOW_MS = RUN_RETRY_WINDOW_MINUTES * 60_000;

/**
 * One run of one task's Loop. A new one per start (and per wake of a parked task), so events of a replaced run
 * cannot touch the next. It lives only while an iteration is in flight or about to be: between runs a task is
 * parked (parking.ts), and the Loop is let go.
 */
export class Activation implements LoopObserver {
  readonly loop: Loop<[Activation]>;
  readonly taskId: number;
  /** The task's handler kind (one shared string per kind), for the runtime's events. */
  readonly kind: string;
  done: Promise<void> | undefined;
  /** The slot whose handler was last called: a cancel after that may have cut a run that already posted. */
  calledSlot: number | undefined;
  /** Set when the runtime stops this Loop to park the task until this slot; NaN otherwise. */
  parkAt = Number.NaN;
  /** The row read at wake, handed to the first iteration so it is not read twice. */
  row: Task | undefined;
  readonly #runtime: RuntimeCallbacks;

  constructor(
    {
      id,
      kind,
      schedule,
      count,
      catchUp,
    }: Pick<TaskTiming, 'id' | 'kind' | 'schedule' | 'count' | 'catchUp'>,
    runtime: RuntimeCallbacks,
  ) {
    this.taskId = id;
    this.kind = kind;
    this.#runtime = runtime;
    // catchUp: a slot the clock jumped past, or a stall hid, is skipped or run once as after downtime.
    // Added to toLoopOptions' fresh object, not spread into a new one: V8 copies a spread of these
    // differently shaped objects the slow way, into an object the engine then reads slowly (~8 µs a wake).
    const options = Object.assign(toLoopOptions(schedule), {
      count,
      retryWindow: RUN_RETRY_WINDOW,
      catchUp,
    });
    this.loop = loop<[Activation]>(options, runtime.iterate);
    this.loop.observe(this);
    // The end observer records and logs the error; the engine's default would print it to stderr.
    this.loop.onError(ignoreError);
  }

  iterationEnd(info: IterationEndInfo): void {
    this.#runtime.iterationEnded(this, info);
  }

  slotMissed(info: SlotMissedInfo): void {
    this.#runtime.slotMissed(this, info);
  }

  end(reason: LoopEndReason, error?: unknown): void {
    this.#runtime.ended(this, reason, error);
  }
}

export interface RuntimeCallbacks {
  iterate(activation: Activation, ctx: LoopContext): Promise<void>;
  iterationEnded(activation: Activation, info: IterationEndInfo): void;
  slotMissed(activation: Activation, info: SlotMissedInfo): void;
  ended(activation: Activation, reason: LoopEndReason, error: unknown): void;
}

function ignoreError(): void {}
