// The loop engine: a TypeScript re-creation of discord.py's `discord.ext.tasks.Loop`. The life of a run is
// told top to bottom in the "Lifecycle" section: #begin (before hook → first slot), #arrive (is the slot
// still due, or missed?), #runSlot (iterate, with retries, → next slot), #end (error hook → after hook).
// Time arithmetic lives in schedule.ts, retry delays in backoff.ts, waiting in timer-queue.ts, clocks in
// clock.ts.
//
// Why not one `async #run` with `await sleep()` between iterations, as discord.py does: a suspended async
// frame plus the promise it awaits measured ~700 bytes (and an eager AbortController ~770 more); built that
// way, 100,000 waiting loops took ~200 MB. Between iterations a run is instead "parked" in the shared timer
// queue, holding no frame and no controller: ~500 bytes per waiting loop in bench/loop.ts.
//
// Clocks: time is read through clock.ts only. A relative interval is waited for on the monotonic clock, so a
// wall-clock jump neither delays nor hurries it (the slot grid moves with the jump instead, keeping
// `Date.now() >= scheduledAt`); a time of day or cron slot is waited for on the wall clock, which the timer
// queue re-reads at least every WALL_CHECK_MS. A slot seen more than MISSED_AFTER_MS late is missed (see
// #arrive), so a forward jump past a slot is treated like downtime: skipped, or run once with `catchUp: 'once'`.
//
// Retries: discord.py retries a slot that hit a handled error for as long as it takes. With `retryWindow`
// a loop gives the slot up instead once the next retry would start past the window (counted from the
// slot's first attempt): a retry much later than its slot can do more harm than good (a post whose
// duplicate check has expired, say). The slot is reported as an error with `gaveUp`, `currentLoop` stays
// where it was, and the loop goes on with the next slot on its grid.
import { ExponentialBackoff } from './backoff.js';
import { CLOCK_JITTER_MS, clock } from './clock.js';
import { assertErrorClasses, DEFAULT_EXCEPTION_TYPES, type ErrorClass, matchesAny } from './errors.js';
import {
  CANCELLED,
  callSafely,
  cancelReason,
  Failure,
  handleRunTimers,
  isThenable,
  Run,
  type Settled,
  settleAlways,
  withFlag,
} from './run.js';
import {
  durationMs,
  firstDueAt,
  isDurationUnit,
  isScheduleKey,
  nextDueAfter,
  normalizeSchedule,
  type Schedule,
  type ScheduleOptions,
  wallJumpShiftMs,
} from './schedule.js';
import { MAX_FIRES_PER_TURN, sharedTimerQueue, WALL_CHECK_MS } from './timer-queue.js';
import type {
  IterationEndInfo,
  IterationOutcome,
  LoopCallback,
  LoopContext,
  LoopEndReason,
  LoopErrorHook,
  LoopHook,
  LoopObserver,
  LoopOptions,
  ResumeState,
  RetryWindow,
} from './types.js';

/**
 * A slot first seen more than this long after its time was missed: the process was not looking (the wall
 * clock jumped past it, or the event loop stalled), and it is skipped unless the loop has `catchUp: 'once'`.
 * Long enough that a slot is never lost to the queue's own backlog (100,000 slots due at one instant take
 * seconds to fire) or to a jump smaller than a minute noticed within WALL_CHECK_MS; a stall that long is the
 * watchdog's business. Slots later than this are what a restart after downtime would skip too.
 */
export const MISSED_AFTER_MS = 60_000 + WALL_CHECK_MS;

const LOOP_KEYS = new Set(['count', 'reconnect', 'name', 'retryWindow', 'catchUp']);
const NO_ARGS: unknown[] = [];

// A Loop's own flags.
const RECONNECT = 1;
const FAILED = 2;
const CATCH_UP_ONCE = 4;

/** First slots waiting in a microtask (see #park); they all run before the next turn of the event loop. */
let firstSlotsPending = 0;

/** Creates a loop that calls `fn(...startArgs, ctx)` on `options`' schedule. It starts with `start()`. */
export function loop<A extends unknown[] = []>(options: LoopOptions, fn: LoopCallback<A>): Loop<A> {
  return new Loop(options, fn);
}

export class Loop<A extends unknown[] = []> {
  readonly #fn: LoopCallback<A>;
  readonly #name: string;
  readonly #count: number | null;
  /** How long a slot may be retried, from its first attempt; null: without limit. */
  readonly #retryWindowMs: number | null;
  // reconnect and failed share one field, so that #retryWindowMs added none: each field is 8 bytes in each
  // of 100,000 loops.
  #flags = 0;
  get #reconnect(): boolean {
    return (this.#flags & RECONNECT) !== 0;
  }
  get #catchUpOnce(): boolean {
    return (this.#flags & CATCH_UP_ONCE) !== 0;
  }
  get #failed(): boolean {
    return (this.#flags & FAILED) !== 0;
  }
  set #failed(value: boolean) {
    this.#flags = withFlag(this.#flags, FAILED, value);
  }
  #schedule: Schedule;

  // Hooks live in one object made on first use: most loops set none, and 100,000 loops feel every field.
  #hooks: { before?: LoopHook; after?: LoopHook; error?: LoopErrorHook } | null = null;
  #exceptionTypes: readonly ErrorClass[] = DEFAULT_EXCEPTION_TYPES; // copied on first change
  // Replaced, never mutated, on (un)subscribe: exact-length arrays (a push would reserve 17 slots), and
  // #notify can walk the current one while an observer unsubscribes.
  #observers: readonly LoopObserver[] | null = null;

  #run: Run<A> | null = null;
  /** A callback that cancel() stopped waiting for and that has not settled yet; the next run waits for it. */
  #abandoned: Promise<void> | null = null;
  #currentLoop = 0;
  #pendingRestart: { args: A | null; promise: Promise<void>; resolve: () => void } | null = null;

  static {
    handleRunTimers((run) => run.loop.#onTimer(run));
  }

  constructor(options: LoopOptions, fn: LoopCallback<A>) {
    if (typeof fn !== 'function') throw new TypeError('loop() expects a callback function');
    if (typeof options !== 'object' || options === null)
      throw new TypeError('loop() expects an options object');
    for (const key of Object.keys(options)) {
      if (!isScheduleKey(key) && !LOOP_KEYS.has(key)) throw new TypeError(`unknown loop option "${key}"`);
    }
    const {
      count = null,
      reconnect = true,
      name,
      retryWindow = null,
      catchUp = 'skip',
      ...scheduleOptions
    } = options;
    if (count !== null && (typeof count !== 'number' || !Number.isInteger(count) || count < 1)) {
      throw new RangeError(`loop option "count" must be a positive integer or null, got ${String(count)}`);
    }
    if (typeof reconnect !== 'boolean') throw new TypeError('loop option "reconnect" must be a boolean');
    if (name !== undefined && typeof name !== 'string')
      throw new TypeError('loop option "name" must be a string');
    if (catchUp !== 'skip' && catchUp !== 'once')
      throw new TypeError(`loop option "catchUp" must be 'skip' or 'once', got ${String(catchUp)}`);
    this.#retryWindowMs = retryWindow === null ? null : retryWindowMs(retryWindow);
    this.#schedule = normalizeSchedule(scheduleOptions);
    this.#fn = fn;
    this.#count = count;
    this.#flags = withFlag(this.#flags, RECONNECT, reconnect);
    this.#flags = withFlag(this.#flags, CATCH_UP_ONCE, catchUp === 'once');
    this.#name = name ?? (fn.name || 'loop');
  }

  // ------------------------------------------------------------------------------------------------------
  // Controls

  /**
   * Starts the loop with `args` passed before the context to every call. Throws if already running.
   * Returns a promise that resolves (never rejects) once the run has fully ended, after afterLoop.
   */
  start(...args: A): Promise<void> {
    return this.#launch(args, undefined);
  }

  /** Starts the loop where a persisted run left off; see `ResumeState`. Same contract as `start()`. */
  resume(state: ResumeState, ...args: A): Promise<void> {
    const { currentLoop, firstDueAt } = state;
    if (!Number.isInteger(currentLoop) || currentLoop < 0) {
      throw new RangeError(`resume state "currentLoop" must be an integer >= 0, got ${String(currentLoop)}`);
    }
    if (firstDueAt !== undefined && !Number.isFinite(+firstDueAt)) {
      throw new RangeError('resume state "firstDueAt" must be a valid Date or epoch milliseconds');
    }
    return this.#launch(args, state);
  }

  /** Graceful: an iteration in flight finishes, no new one starts, then afterLoop runs. */
  stop(): void {
    const run = this.#run;
    if (run === null || run.ending) return;
    run.stopRequested = true;
    if (this.#pendingRestart) this.#pendingRestart.args = null;
    // Unlike discord.py, a loop waiting for its next slot ends now instead of running one more iteration.
    if (this.#unpark(run)) void this.#end(run, 'stopped');
    else run.retryWake?.(false);
  }

  /** Immediate: aborts the iteration in flight through its AbortSignal, ends the loop, then runs afterLoop. */
  cancel(): void {
    if (this.#pendingRestart) this.#pendingRestart.args = null;
    this.#cancelRun();
  }

  /**
   * Cancels the current run and starts a new one with `args` once it has fully ended (or starts now if not
   * running). Calls made while the old run is ending share one restart (the last args win), so two quick
   * restarts never start two runs. The promise resolves when the new run ends.
   */
  restart(...args: A): Promise<void> {
    if (this.#run === null) return this.start(...args);
    if (this.#pendingRestart) {
      this.#pendingRestart.args = args;
      return this.#pendingRestart.promise;
    }
    let resolve!: () => void;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    this.#pendingRestart = { args, promise, resolve };
    this.#cancelRun();
    return promise;
  }

  // ------------------------------------------------------------------------------------------------------
  // Lifecycle: #launch → #begin → (#park → #arrive → #runSlot)* → #end

  #launch(args: A, resume: ResumeState | undefined): Promise<void> {
    if (this.#run !== null) throw new Error(`loop "${this.#name}" is already running`);
    const run = new Run(this, args.length === 0 ? (NO_ARGS as A) : args);
    const done = new Promise<void>((resolve) => {
      run.finish = resolve;
    });
    this.#run = run;
    this.#failed = false;
    this.#currentLoop = resume?.currentLoop ?? 0;
    void this.#begin(run, resume?.firstDueAt);
    return done;
  }

  /**
   * Waits for a callback the last run abandoned (a new run never overlaps it), then the before hook, then
   * parks until the first slot (now for relative schedules, or the resume instant).
   */
  async #begin(run: Run<A>, firstDue: Date | number | undefined): Promise<void> {
    try {
      if (this.#abandoned !== null) {
        if ((await this.#settle(run, this.#abandoned)) === CANCELLED)
          return await this.#end(run, 'cancelled');
      }
      const before = this.#hooks?.before;
      if (before) {
        const settled = await this.#settle(run, callSafely(before));
        if (settled === CANCELLED) return await this.#end(run, 'cancelled');
        if (settled instanceof Failure) return await this.#end(run, 'failed', settled.error);
      }
      const dueMs = firstDue !== undefined ? +firstDue : firstDueAt(this.#schedule, clock.wallMs());
      run.anchorMs = dueMs;
      this.#park(run, dueMs, true);
    } catch (error) {
      await this.#end(run, 'failed', error);
    }
  }

  /**
   * Between iterations: end if the count is reached or stop/cancel was asked, else wait for `dueMs`.
   * A first slot that is already due runs in a microtask rather than a timer turn (which costs ~1 ms), yet
   * after start() has returned, so code right after start() (observe(), say) still sees the first iteration.
   * Later slots always pass through the timer queue, so a back-to-back or overrunning loop yields to the
   * event loop between iterations. So do first slots beyond MAX_FIRES_PER_TURN pending at once (100,000
   * tasks resumed late, say), so that the queue's cap per turn bounds them too.
   */
  #park(run: Run<A>, dueMs: number, first = false): void {
    if (this.#count !== null && this.#currentLoop >= this.#count) return void this.#end(run, 'completed');
    // A schedule with no slot left (a one-off that ran or was missed) completes like a reached count.
    if (dueMs === Number.POSITIVE_INFINITY) return void this.#end(run, 'completed');
    if (run.cancelRequested) return void this.#end(run, 'cancelled');
    if (run.stopRequested) return void this.#end(run, 'stopped');
    run.nextDueMs = dueMs;
    run.parked = true;
    const due = dueMs <= clock.wallMs();
    run.owed = first && due;
    if (!first || !due || firstSlotsPending >= MAX_FIRES_PER_TURN) {
      this.#wait(run, dueMs);
      return;
    }
    firstSlotsPending++;
    queueMicrotask(() => {
      firstSlotsPending--;
      // Still parked and not moved into the queue by changeInterval() meanwhile.
      if (run.parked && run.heapIndex === -1) {
        run.parked = false;
        void this.#runSlot(run, run.nextDueMs);
      }
    });
  }

  /** Queues a parked run for the slot `dueMs`: on the monotonic clock for intervals, else on the wall clock. */
  #wait(run: Run<A>, dueMs: number): void {
    if (this.#schedule.kind === 'relative') sharedTimerQueue.schedule(run, clock.monoAt(dueMs));
    else sharedTimerQueue.scheduleWall(run, dueMs);
  }

  #onTimer(run: Run<A>): void {
    if (run.retryWake) run.retryWake(true);
    else if (run.parked) {
      try {
        this.#arrive(run);
      } catch (error) {
        void this.#end(run, 'failed', error); // the schedule had no next slot, say
      }
    }
  }

  /**
   * A parked run's wait is over. Checks the slot against the wall clock first: a clock jump moves a relative
   * grid (its wait was monotonic) or, for a time of day or cron slot, may mean it is not due yet. Then a slot
   * seen more than MISSED_AFTER_MS late is missed: the process was not looking when its time came. discord.py
   * runs such a slot whenever it wakes; after a 2-hour jump that posts a 09:00 reminder at 11:00, which an
   * operator who chose to skip missed runs after downtime does not want after a jump either.
   */
  #arrive(run: Run<A>): void {
    run.parked = false;
    let dueMs = run.nextDueMs;
    const wallMs = clock.wallMs();
    let lateMs: number;
    if (this.#schedule.kind === 'relative') {
      lateMs = clock.monoMs() - run.dueMs; // the queue key: the slot on the monotonic clock
      // How far the wall clock was stepped since the slot was keyed (at dueMs − the offset of that moment).
      const jumpMs = clock.offsetMs() - (dueMs - run.dueMs);
      if (Math.abs(jumpMs) > CLOCK_JITTER_MS) {
        const shiftMs = wallJumpShiftMs(jumpMs, this.#schedule.intervalMs);
        run.anchorMs += shiftMs;
        run.lastDueMs += shiftMs;
        dueMs += shiftMs;
      }
    } else {
      lateMs = wallMs - dueMs;
    }
    if (wallMs < dueMs) {
      // The wall clock went back since this slot was queued: it is not due yet, so wait again.
      run.parked = true;
      this.#wait(run, dueMs);
      return;
    }
    if (lateMs > MISSED_AFTER_MS && !run.owed && !this.#catchUpOnce) {
      const nextDueMs = this.#slotAfter(run, dueMs, wallMs);
      if (this.#observers)
        this.#notify('slotMissed', { scheduledAt: new Date(dueMs), nextIteration: dateOrNull(nextDueMs) });
      this.#park(run, nextDueMs);
      return;
    }
    void this.#runSlot(run, dueMs);
  }

  /** A slot is due: run its iteration (retrying handled errors), then park for the next slot or end. */
  async #runSlot(run: Run<A>, scheduledMs: number): Promise<void> {
    try {
      const ended = await this.#iterate(run, scheduledMs);
      if (ended === undefined) this.#park(run, run.nextDueMs);
      else await this.#end(run, ended);
    } catch (error) {
      await this.#end(run, 'failed', error);
    }
  }

  /** The run is over: report a failure, run afterLoop, tell observers, then resolve start()'s promise. */
  async #end(run: Run<A>, reason: LoopEndReason, failure?: unknown): Promise<void> {
    if (run.ending) return;
    run.ending = true;
    run.nextDueMs = Number.NaN;
    if (reason === 'failed') {
      this.#failed = true;
      await this.#reportError(failure);
    }
    const afterHook = this.#hooks?.after;
    if (afterHook) {
      const after = await settleAlways(callSafely(afterHook));
      if (after instanceof Failure) await this.#reportError(after.error);
    }
    this.#run = null;
    this.#notify('end', reason, failure);
    run.finish();
    this.#startPendingRestart();
  }

  /**
   * One iteration: attempts the callback until it succeeds, retrying handled errors with backoff (within
   * the retry window, if any). Returns undefined to go on (run.nextDueMs is then the next slot), or why the
   * loop ends. Fatal errors throw.
   */
  async #iterate(run: Run<A>, scheduledMs: number): Promise<LoopEndReason | undefined> {
    const iteration = this.#currentLoop;
    const scheduledAt = new Date(scheduledMs);
    run.lastDueMs = scheduledMs;
    let backoff: ExponentialBackoff | undefined;
    // From the first attempt rather than the slot: a slot run late on purpose (a catch-up after downtime)
    // still gets its retries.
    const giveUpAfterMs =
      this.#retryWindowMs === null ? Number.POSITIVE_INFINITY : clock.monoMs() + this.#retryWindowMs;
    for (;;) {
      const startedMs = clock.wallMs();
      // While the iteration runs, nextIteration already shows the slot after it.
      run.nextDueMs = this.#slotAfter(run, scheduledMs, startedMs);
      if (this.#observers)
        this.#notify('iterationStart', { iteration, scheduledAt, startedAt: new Date(startedMs) });
      const result = callSafely(this.#fn, ...run.args, this.#context(run, iteration, scheduledAt));
      const settled = await this.#settle(run, result);
      if (settled === CANCELLED && isThenable(result)) this.#abandon(result);
      run.controller = null;
      run.liveContext = null;
      const finishedMs = clock.wallMs();
      const report = (outcome: IterationOutcome, error?: unknown, gaveUp = false) => {
        if (this.#observers === null) return; // the hot path of 100,000 unobserved loops allocates nothing here
        const info: IterationEndInfo = {
          iteration,
          scheduledAt,
          startedAt: new Date(startedMs),
          finishedAt: new Date(finishedMs),
          outcome,
          nextIteration: this.nextIteration,
        };
        if (error !== undefined) info.error = error;
        if (gaveUp) info.gaveUp = true;
        this.#notify('iterationEnd', info);
      };

      // A failure once cancel() was asked is the cancellation's own doing (a handler rethrowing the abort,
      // which discord.js reports as a plain AbortError): it ends the run as cancelled and is never retried.
      if (settled === CANCELLED || (settled !== undefined && run.cancelRequested)) {
        run.nextDueMs = Number.NaN;
        report('cancelled');
        return 'cancelled';
      }
      if (settled === undefined) {
        this.#currentLoop++;
        const more = this.#count === null || this.#currentLoop < this.#count;
        const goingOn = more && !run.stopRequested && !run.cancelRequested;
        // The slot computed as the attempt started is still the next one unless the attempt ran past it:
        // each slot is computed once, not twice per iteration (a cron slot costs croner's matching).
        const nextMs = run.nextDueMs;
        if (!goingOn) run.nextDueMs = Number.NaN;
        else if (!(nextMs >= finishedMs)) run.nextDueMs = this.#slotAfter(run, scheduledMs, finishedMs);
        report('ok');
        return undefined; // #park decides between the next slot and the end
      }
      const { error } = settled;
      if (!this.#reconnect || !matchesAny(error, this.#exceptionTypes)) {
        run.nextDueMs = Number.NaN;
        report('error', error);
        throw error;
      }
      // Handled error: the same iteration runs again later; currentLoop does not move.
      backoff ??= new ExponentialBackoff();
      // A loop asked to stop during the failed attempt will not retry: report no next time.
      const retryDelayMs = run.stopRequested || run.cancelRequested ? Number.NaN : backoff.nextDelayMs();
      run.nextDueMs = finishedMs + retryDelayMs;
      // On the monotonic clock, like the retry's wait itself: a clock step neither stretches nor cuts it.
      if (clock.monoMs() + retryDelayMs > giveUpAfterMs) {
        // Past the retry window: give the slot up and go on with the next one after now, on the grid.
        run.nextDueMs = this.#slotAfter(run, scheduledMs, finishedMs);
        report('error', error, true);
        return undefined;
      }
      report('retried', error);
      if (!(await this.#waitForRetry(run))) return run.cancelRequested ? 'cancelled' : 'stopped';
    }
  }

  /** The callback's context. The AbortController is made only when the callback reads ctx.signal. */
  #context(run: Run<A>, iteration: number, scheduledAt: Date): LoopContext {
    let controller: AbortController | null = null;
    const context: LoopContext = {
      iteration,
      scheduledAt,
      get signal(): AbortSignal {
        if (controller === null) {
          controller = new AbortController();
          // Each attempt has its own signal: a callback that reads its context after the attempt ended (a
          // timer it left behind) gets that attempt's signal, never the one of the retry running now.
          if (run.liveContext === context) run.controller = controller;
        }
        if (run.cancelRequested && !controller.signal.aborted) controller.abort(cancelReason());
        return controller.signal;
      },
    };
    run.liveContext = context;
    return context;
  }

  /** The next slot after `lastDueMs` on the current schedule, skipping any already missed at `nowMs`. */
  #slotAfter(run: Run<A>, lastDueMs: number, nowMs: number): number {
    return nextDueAfter(this.#schedule, { anchorMs: run.anchorMs, lastDueMs, nowMs });
  }

  // ------------------------------------------------------------------------------------------------------
  // Waiting and interruption

  /** Resolves true at run.nextDueMs (a delay, so measured on the monotonic clock), or false as soon as stop()/cancel() wakes the run. */
  #waitForRetry(run: Run<A>): Promise<boolean> {
    if (run.stopRequested || run.cancelRequested) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      run.retryWake = (due) => {
        run.retryWake = null;
        if (!due) sharedTimerQueue.cancel(run);
        resolve(due);
      };
      sharedTimerQueue.schedule(run, clock.monoAt(run.nextDueMs));
    });
  }

  /** Takes a parked run out of the timer queue; returns whether it was parked. */
  #unpark(run: Run<A>): boolean {
    if (!run.parked) return false;
    run.parked = false;
    sharedTimerQueue.cancel(run);
    return true;
  }

  /** Awaits a hook or callback result, but gives up on it the moment the run is cancelled. */
  #settle(run: Run<A>, result: unknown): Settled | Promise<Settled> {
    if (result instanceof Failure) return result;
    if (!isThenable(result)) return undefined;
    if (run.cancelRequested) {
      result.then(undefined, () => {}); // abandoned: its outcome no longer matters, but must not go unhandled
      return CANCELLED;
    }
    return new Promise<Settled>((resolve) => {
      run.interrupt = () => resolve(CANCELLED);
      result.then(
        () => resolve(undefined),
        (error: unknown) => resolve(new Failure(error)),
      );
    }).finally(() => {
      run.interrupt = null;
    });
  }

  /** Remembers a callback cancel() gave up on, until it settles, so that the next run can wait for it. */
  #abandon(result: PromiseLike<unknown>): void {
    const settled = Promise.resolve(result).then(
      () => {},
      () => {},
    );
    this.#abandoned = settled;
    void settled.then(() => {
      if (this.#abandoned === settled) this.#abandoned = null;
    });
  }

  #cancelRun(): void {
    const run = this.#run;
    if (run === null || run.ending || run.cancelRequested) return;
    run.cancelRequested = true;
    run.controller?.abort(cancelReason());
    if (this.#unpark(run)) {
      void this.#end(run, 'cancelled');
      return;
    }
    run.retryWake?.(false);
    run.interrupt?.();
  }

  #startPendingRestart(): void {
    const pending = this.#pendingRestart;
    if (pending === null) return;
    this.#pendingRestart = null;
    if (pending.args === null || this.#run !== null) {
      pending.resolve();
      return;
    }
    this.#launch(pending.args, undefined).then(pending.resolve);
  }

  // ------------------------------------------------------------------------------------------------------
  // Hooks, errors and observers

  /** Runs before the first iteration. An error in it fails the loop (afterLoop still runs). */
  beforeLoop(hook: LoopHook): this {
    this.#hooks = { ...this.#hooks, before: hook };
    return this;
  }

  /** Runs once the loop ends for any reason: stop, cancel, count reached or failure. */
  afterLoop(hook: LoopHook): this {
    this.#hooks = { ...this.#hooks, after: hook };
    return this;
  }

  /** Receives errors that end the loop (and errors from afterLoop). Default: console.error with the name. */
  onError(hook: LoopErrorHook): this {
    this.#hooks = { ...this.#hooks, error: hook };
    return this;
  }

  async #reportError(error: unknown): Promise<void> {
    const errorHook = this.#hooks?.error;
    if (errorHook) {
      const settled = await settleAlways(callSafely(errorHook, error));
      if (!(settled instanceof Failure)) return;
      console.error(`loop "${this.#name}": the error hook threw`, settled.error);
    }
    console.error(`loop "${this.#name}": unhandled error`, error);
  }

  /** Subscribes to iteration and end events; returns the unsubscribe function. */
  observe(observer: LoopObserver): () => void {
    this.#observers = this.#observers === null ? [observer] : [...this.#observers, observer];
    return () => {
      const observers = this.#observers ?? [];
      const index = observers.indexOf(observer);
      if (index !== -1) this.#observers = observers.filter((_, i) => i !== index);
    };
  }

  #notify<K extends keyof LoopObserver>(
    event: K,
    ...payload: Parameters<NonNullable<LoopObserver[K]>>
  ): void {
    if (this.#observers === null) return;
    for (const observer of this.#observers) {
      try {
        const handler = observer[event] as ((...a: unknown[]) => unknown) | undefined;
        const result = handler?.call(observer, ...payload);
        if (isThenable(result))
          result.then(undefined, (error: unknown) => this.#observerFailed(event, error));
      } catch (error) {
        this.#observerFailed(event, error);
      }
    }
  }

  #observerFailed(event: string, error: unknown): void {
    console.error(`loop "${this.#name}": an observer's ${event} threw`, error);
  }

  /** Adds error classes that retry the iteration (with backoff) instead of failing the loop. */
  addExceptionType(...types: ErrorClass[]): void {
    assertErrorClasses('addExceptionType', types);
    this.#exceptionTypes = [
      ...this.#exceptionTypes,
      ...types.filter((t) => !this.#exceptionTypes.includes(t)),
    ];
  }

  /** Removes error classes; returns whether every one of them was in the list. */
  removeExceptionType(...types: ErrorClass[]): boolean {
    assertErrorClasses('removeExceptionType', types);
    const allRemoved = types.every((t) => this.#exceptionTypes.includes(t));
    this.#exceptionTypes = this.#exceptionTypes.filter((t) => !types.includes(t));
    return allRemoved;
  }

  /** Removes every handled error class, the defaults included (as discord.py). */
  clearExceptionTypes(): void {
    this.#exceptionTypes = [];
  }

  /** The handled error classes (default: [TransientError]). */
  get exceptionTypes(): readonly ErrorClass[] {
    return this.#exceptionTypes;
  }

  // ------------------------------------------------------------------------------------------------------
  // Schedule and state

  /**
   * Replaces the schedule (same options as `loop()`; validated now). An iteration in flight is not affected;
   * the next one follows the new schedule, and `nextIteration` is recomputed immediately. A relative
   * schedule is anchored on the last iteration's slot. A pending retry keeps its time.
   */
  changeInterval(options: ScheduleOptions): void {
    if (typeof options !== 'object' || options === null)
      throw new TypeError('changeInterval() expects an options object');
    for (const key of Object.keys(options)) {
      if (!isScheduleKey(key)) throw new TypeError(`changeInterval() got unknown option "${key}"`);
    }
    // Everything is computed before anything is assigned, so a throw leaves the loop exactly as it was.
    const schedule = normalizeSchedule(options);
    const run = this.#run;
    if (run === null || Number.isNaN(run.nextDueMs) || run.retryWake !== null) {
      this.#schedule = schedule;
      return;
    }
    const nowMs = clock.wallMs();
    let { anchorMs, nextDueMs } = run;
    if (run.lastDueMs !== Number.NEGATIVE_INFINITY) {
      anchorMs = run.lastDueMs;
      nextDueMs = nextDueAfter(schedule, { anchorMs, lastDueMs: run.lastDueMs, nowMs });
    } else if (!(schedule.kind === 'relative' && this.#schedule.kind === 'relative')) {
      // Nothing has run yet: the new schedule's first slot (a relative-to-relative change keeps the first slot).
      nextDueMs = firstDueAt(schedule, nowMs);
      anchorMs = nextDueMs;
    }
    this.#schedule = schedule;
    run.anchorMs = anchorMs;
    run.nextDueMs = nextDueMs;
    run.owed = false; // a slot of the new schedule, not the one the run was started or resumed on
    if (run.parked) this.#wait(run, nextDueMs);
  }

  /** The current normalized schedule. */
  get schedule(): Schedule {
    return this.#schedule;
  }

  get name(): string {
    return this.#name;
  }

  /** The configured number of iterations, or null for forever. */
  get count(): number | null {
    return this.#count;
  }

  /**
   * Iterations completed in this run (or the last one). discord.py resets it to 0 in a `finally`, losing
   * how far a stopped loop got; we keep it until the next start so it can be read and persisted.
   */
  get currentLoop(): number {
    return this.#currentLoop;
  }

  /** When the next iteration (or retry) is due; null when the loop is not running or will not run again. */
  get nextIteration(): Date | null {
    return dateOrNull(this.#run?.nextDueMs ?? Number.NaN);
  }

  /** True from start() until the run has fully ended (afterLoop included). */
  isRunning(): boolean {
    return this.#run !== null;
  }

  isBeingCancelled(): boolean {
    return this.#run?.cancelRequested ?? false;
  }

  /** Whether the last run ended on an error (reset by the next start). */
  failed(): boolean {
    return this.#failed;
  }
}

/** The `retryWindow` option in milliseconds; throws naming the option if it is not a valid duration. */
function retryWindowMs(window: RetryWindow): number {
  if (typeof window !== 'object' || Array.isArray(window)) {
    throw new TypeError('loop option "retryWindow" must be an object such as { minutes: 2 }, or null');
  }
  for (const key of Object.keys(window)) {
    if (!isDurationUnit(key)) throw new TypeError(`loop option "retryWindow" got unknown unit "${key}"`);
  }
  return durationMs(window, 'retryWindow');
}

/** A due instant as a Date; null for none (NaN: not running, Infinity: no slot left). */
function dateOrNull(dueMs: number): Date | null {
  return Number.isFinite(dueMs) ? new Date(dueMs) : null;
}
