import type { Task } from '../db/index.js';
import type { LoopContext } from '../loop/index.js';
import { TaskTimeoutError } from './errors.js';
import { runNonce } from './nonce.js';

// One attempt of a task's run: the executor (the handler layer) called with its context, bounded by the
// task's timeout. The runtime calls it once the attempt's start is in the run journal.

/** What the handler layer receives for each iteration. */
export interface ExecuteContext {
  /** Aborted when the task is cancelled, deleted, times out, or shutdown's grace period ends. */
  signal: AbortSignal;
  /** The slot this iteration is due at (the same across retries of the iteration). */
  scheduledAt: Date;
  /** Zero-based; continues across restarts of the bot. */
  iteration: number;
  /** runNonce(task.id, scheduledAt): pass it with enforce_nonce when posting. */
  nonce: string;
}

export type TaskExecutor = (task: Readonly<Task>, ctx: ExecuteContext) => Promise<void>;

/**
 * Calls the executor, bounded by the task's timeout. A handler that ignores its signal is abandoned at the
 * timeout, so it cannot hold up its own loop; other loops never wait on it, since every iteration is its own
 * promise. The timeout is a handled error (the engine retries the slot); an abandoned attempt keeps nothing
 * of ours alive but the small closures on its own promise: its timer has fired, its signal is aborted
 * (releasing what the handler hung on it) and unlinked from the loop's.
 */
export function attempt(execute: TaskExecutor, task: Task, loopContext: LoopContext): Promise<void> {
  const context = new IterationContext(task, loopContext);
  const { timeoutMs } = task;
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (failed: boolean, error?: unknown) => {
      if (settled) return; // the handler finishing after its timeout: nothing left to do
      settled = true;
      clearTimeout(timer);
      context.dispose();
      if (failed) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => {
      const error = new TaskTimeoutError(timeoutMs);
      context.abort(error);
      settle(true, error);
    }, timeoutMs);
    let running: Promise<void>;
    try {
      running = execute(task, context);
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(
      () => settle(false),
      (error: unknown) => settle(true, error),
    );
  });
}

/** What the executor gets: built per iteration, with the signal made only on use. */
class IterationContext implements ExecuteContext {
  readonly #task: Task;
  readonly #loopContext: LoopContext;
  #controller: AbortController | undefined;
  #abortReason: unknown;
  #unlink: (() => void) | undefined;

  constructor(task: Task, loopContext: LoopContext) {
    this.#task = task;
    this.#loopContext = loopContext;
  }

  get scheduledAt(): Date {
    return this.#loopContext.scheduledAt;
  }

  get iteration(): number {
    return this.#loopContext.iteration;
  }

  get nonce(): string {
    return runNonce(this.#task.id, this.#loopContext.scheduledAt.getTime());
  }

  /** Aborted by cancel (through the loop's signal) or by the timeout. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      if (this.#abortReason !== undefined) controller.abort(this.#abortReason);
      // A handler abandoned at its timeout that reads its signal only later must not link to the loop's
      // signal, which by then belongs to a later attempt.
      if (this.#unlink === DISPOSED) return controller.signal;
      const loopSignal = this.#loopContext.signal;
      const follow = () => controller.abort(loopSignal.reason);
      if (loopSignal.aborted) follow();
      loopSignal.addEventListener('abort', follow);
      this.#unlink = () => loopSignal.removeEventListener('abort', follow);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  /** The attempt is over: stop following the loop's signal. */
  dispose(): void {
    this.#unlink?.();
    this.#unlink = DISPOSED;
  }
}

const DISPOSED = (): void => {};
