// The tasks this process runs, and the loop callbacks through which their Loops report. A running task has a
// Loop only while an iteration is in flight or about to be: between runs it is parked (parking.ts: its slot and
// id in a compact queue), and woken into a new Loop when its slot comes (waking.ts). The rules kept here: an
// attempt's start is committed before its handler is called, and each iteration and each end of a run is
// written back as it happens (by the run journal), so the rows always say what to resume.
import type { Db, IterationRecord, RunIntent, Task, TaskState, TaskTiming } from '../db/index.js';
import { getTaskById, setNextRuns, updateTask } from '../db/index.js';
import type { Logger } from '../log.js';
import {
  type IterationEndInfo,
  type LoopContext,
  type LoopEndReason,
  type SlotMissedInfo,
  TransientError,
} from '../loop/index.js';
import { Activation, RUN_RETRY_WINDOW_MINUTES, RUN_RETRY_WINDOW_MS } from './activation.js';
import { attempt, type TaskExecutor } from './attempt.js';
import type { RuntimeEvents } from './events.js';
import { errorText, missedRecord, type RunJournal } from './journal.js';
import { ParkedTasks, type Wake } from './parking.js';
import { Waker } from './waking.js';

/**
 * A task whose next slot is nearer than this keeps its Loop; a later one is parked. Building a Loop at a wake
 * costs a few microseconds more than keeping one, and a kept Loop ~1.5 KB: worth it only for a slot this close.
 */
export const KEEP_LOOP_MS = 10;

export interface TaskLoopsOptions {
  db: Db;
  execute: TaskExecutor;
  log: Logger;
  journal: RunJournal;
  events: RuntimeEvents;
}

export class TaskLoops {
  readonly #db: Db;
  readonly #execute: TaskExecutor;
  readonly #log: Logger;
  readonly #journal: RunJournal;
  readonly #events: RuntimeEvents;
  /** The live Loop of each running (or still ending) task, by task id: only those with a run in flight or near. */
  readonly #active = new Map<number, Activation>();
  /** Running tasks waiting for a later slot, without a Loop. */
  readonly #parked: ParkedTasks;
  /** Slots being replayed after a crash, by task, with the start of their first attempt before it. */
  readonly #replays = new Map<number, Replay>();
  /**
   * The attempt in flight of each task, until its handler settles or its timeout abandons it. A cancelled
   * loop ends without waiting for it, so the first iteration of a new run (start, restart) waits for it in
   * #iterate: a new run must not overlap the old handler (a counter posting its message before the old run
   * saved the id would post a second one). The command itself answers at once.
   */
  readonly #inFlight = new Map<number, Promise<void>>();
  #closing = false;
  readonly #callbacks = {
    iterate: (activation: Activation, ctx: LoopContext) => this.#iterate(activation, ctx),
    iterationEnded: (activation: Activation, info: IterationEndInfo) =>
      this.#iterationEnded(activation, info),
    slotMissed: (activation: Activation, info: SlotMissedInfo) => this.#loopSlotMissed(activation, info),
    ended: (activation: Activation, reason: LoopEndReason, error: unknown) =>
      this.#ended(activation, reason, error),
  };

  constructor(options: TaskLoopsOptions) {
    this.#db = options.db;
    this.#execute = options.execute;
    this.#log = options.log;
    this.#journal = options.journal;
    this.#events = options.events;
    const waker = new Waker(options, this);
    this.#parked = new ParkedTasks((wake) => waker.woken(wake));
  }

  /** Set by shutdown(): rows stay `running` from then on, for the next start-up. */
  get closing(): boolean {
    return this.#closing;
  }

  /** How many tasks run here: with a live Loop, or parked until their next slot. */
  get size(): number {
    return this.#active.size + this.#parked.size;
  }

  get liveCount(): number {
    return this.#active.size;
  }

  get parkedCount(): number {
    return this.#parked.size;
  }

  /** Whether this process runs the task already, live or parked. */
  has(taskId: number): boolean {
    return this.#active.has(taskId) || this.#parked.has(taskId);
  }

  /** Whether the task has a live Loop here. */
  isLive(taskId: number): boolean {
    return this.#active.has(taskId);
  }

  /** The task's live run, if it has one. */
  activation(taskId: number): Activation | undefined {
    return this.#active.get(taskId);
  }

  /** The slot a parked task waits for; undefined if it is not parked. */
  parkedSlot(taskId: number): number | undefined {
    return this.#parked.slotOf(taskId);
  }

  /** Takes the task out of the parked queue; whether it was there. */
  unpark(taskId: number): boolean {
    return this.#parked.unpark(taskId);
  }

  /** Lets go of the task's live run, so its end no longer speaks for the task (it would write its state). */
  forget(taskId: number): void {
    this.#active.delete(taskId);
  }

  /** Neither live nor parked any more; returns the live run let go, for the caller to end. */
  release(taskId: number): Activation | undefined {
    const activation = this.#active.get(taskId);
    this.#active.delete(taskId);
    this.#parked.unpark(taskId);
    return activation;
  }

  /** Wakes the task again after `delayMs` (its row could not be read). */
  retryWake(wake: Wake, delayMs: number): void {
    this.#parked.retryLater(wake, delayMs);
  }

  /** A new run of the task's Loop, reporting here. Throws for a stored schedule or count the engine refuses. */
  newActivation(task: Pick<TaskTiming, 'id' | 'kind' | 'schedule' | 'count' | 'catchUp'>): Activation {
    return new Activation(task, this.#callbacks);
  }

  activate(activation: Activation, firstDueMs: number, currentLoop: number): void {
    this.#active.set(activation.taskId, activation);
    activation.done = activation.loop.resume({ currentLoop, firstDueAt: firstDueMs }, activation);
  }

  /** Runs a running task from the slot `dueMs`: a Loop now if the slot is near, else parked until it. */
  runFrom(task: TaskTiming, dueMs: number, currentLoop: number): void {
    if (dueMs - Date.now() >= KEEP_LOOP_MS)
      this.#parked.park(task.id, dueMs, task.schedule.kind === 'interval');
    else this.activate(this.newActivation(task), dueMs, currentLoop);
  }

  /** A parked task as a live Loop waiting for its parked slot (see updateSchedule); undefined if not parked. */
  unparkToLoop(task: Task): Activation | undefined {
    const slotMs = this.#parked.slotOf(task.id);
    if (slotMs === undefined || task.state !== 'running') return undefined;
    const activation = this.newActivation(task);
    this.#parked.unpark(task.id);
    this.activate(activation, slotMs, this.#journal.pendingCurrentLoop(task.id) ?? task.currentLoop);
    return activation;
  }

  /** The slot a crash interrupted, to be run again (resumeAll); its first attempt started at `intent`. */
  expectReplay(taskId: number, intent: RunIntent): void {
    this.#replays.set(taskId, {
      scheduledAt: intent.scheduledAt,
      firstStartedAt: intent.startedAt,
      late: false,
    });
  }

  /** A new run's slots are its own: an open attempt of the old run is not replayed into it. */
  forgetReplay(taskId: number): void {
    this.#replays.delete(taskId);
  }

  /**
   * Stops every loop gracefully, waiting up to `graceMs` for iterations in flight (then aborting them). Parked
   * tasks need nothing: their rows say running, and start-up works out their next run again.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.#closing = true;
    this.#parked.close();
    const activations = [...this.#active.values()];
    for (const activation of activations) activation.loop.stop();
    const allDone = Promise.all(activations.map((a) => a.done));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
    });
    if ((await Promise.race([allDone, graceOver])) === 'late') {
      for (const activation of activations) activation.loop.cancel();
      await allDone;
    }
    clearTimeout(timer);
    this.#active.clear();
  }

  /** Tells the event stream a run was recorded; costs nothing while no one listens. */
  recorded(record: IterationRecord, kind: string, gaveUp = false): void {
    if (this.#events.listenerCount('runRecorded') === 0) return;
    const { taskId, outcome, scheduledAt, startedAt, finishedAt } = record;
    this.#events.emit('runRecorded', { taskId, kind, outcome, gaveUp, scheduledAt, startedAt, finishedAt });
  }

  /** A missed slot (see #loopSlotMissed and waking.ts), before the task goes on with `nextRunAt` or completes. */
  slotMissed(
    taskId: number,
    kind: string,
    currentLoop: number,
    scheduledAt: number,
    nextRunAt: number | null,
  ): void {
    if (nextRunAt === null) {
      // A one-off's only slot: recorded as missed (the loop then completes), so /task info can say so.
      const record = missedRecord({ id: taskId, currentLoop, nextRunAt: scheduledAt }, Date.now());
      this.#journal.record(record);
      this.recorded(record, kind);
      return;
    }
    this.#log.info(
      { taskId, missed: new Date(scheduledAt), nextRunAt: new Date(nextRunAt) },
      'missed a run (the clock jumped or the bot stalled); catch-up skip goes on with the next one',
    );
    this.#journal.rebase(taskId, { nextRunAt });
    try {
      setNextRuns(this.#db, [{ id: taskId, nextRunAt }], Date.now());
    } catch (error) {
      // Only a display field: the next record or start-up (from lastRunAt) puts it right.
      this.#log.warn({ taskId, err: error }, 'could not save the next run after a missed one');
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // Loop callbacks

  /**
   * The loop callback of every task. The attempt's start is committed first (with the rest of the tick's,
   * by the journal), and only then is the executor called, bounded by the task's timeout.
   */
  #iterate(activation: Activation, loopContext: LoopContext): Promise<void> {
    const previous = this.#inFlight.size === 0 ? undefined : this.#inFlight.get(activation.taskId);
    if (previous !== undefined) {
      // Bounded by the old attempt's timeout, past which it is abandoned and settles.
      return previous.then(
        () => this.#iterateNow(activation, loopContext),
        () => this.#iterateNow(activation, loopContext),
      );
    }
    return this.#iterateNow(activation, loopContext);
  }

  #iterateNow(activation: Activation, loopContext: LoopContext): Promise<void> {
    // Read per iteration rather than kept: 100,000 cached rows cost ~45 MB for ~6 µs saved per fire.
    // Normally current: the previous iteration's record was flushed in a microtask before this timer turn.
    let task = activation.row;
    activation.row = undefined;
    if (task === undefined) {
      try {
        task = getTaskById(this.#db, activation.taskId);
      } catch (error) {
        // A database that cannot be read now (busy, say) is a passing error: the loop retries the slot.
        return Promise.reject(
          new TransientError(`could not read the task from the database (${errorText(error)})`, {
            cause: error,
          }),
        );
      }
      if (task === undefined) return Promise.resolve();
    }
    const scheduledAt = loopContext.scheduledAt.getTime();
    if (this.#replays.size > 0 && this.#replayTooLate(task.id, scheduledAt)) return Promise.resolve();
    const intent: RunIntent = {
      taskId: task.id,
      scheduledAt,
      startedAt: Date.now(),
      iteration: loopContext.iteration,
    };
    const found = task;
    return this.#journal.begin(intent).then(() => this.#attempt(activation, found, loopContext));
  }

  /**
   * Whether this attempt would retry a replayed slot past the run retry window, counted from its first
   * attempt before the crash (the loop counts only from the replay). A post now could show up as a second
   * message, so none is made: the slot is recorded as interrupted, and counted.
   */
  #replayTooLate(taskId: number, scheduledAt: number): boolean {
    const replay = this.#replays.get(taskId);
    if (replay?.scheduledAt !== scheduledAt || Date.now() - replay.firstStartedAt < RUN_RETRY_WINDOW_MS) {
      return false;
    }
    replay.late = true;
    return true;
  }

  /** The attempt, unless its run was cancelled, deleted or replaced while its start was being written. */
  #attempt(activation: Activation, task: Task, loopContext: LoopContext): Promise<void> {
    const { loop: current } = activation;
    if (this.#active.get(task.id) !== activation || !current.isRunning() || current.isBeingCancelled()) {
      return Promise.resolve(); // the loop no longer waits for it
    }
    activation.calledSlot = loopContext.scheduledAt.getTime();
    const running = attempt(this.#execute, task, loopContext);
    this.#inFlight.set(task.id, running);
    const forget = () => {
      if (this.#inFlight.get(task.id) === running) this.#inFlight.delete(task.id);
    };
    running.then(forget, forget);
    return running;
  }

  #iterationEnded(activation: Activation, info: IterationEndInfo): void {
    const ok = info.outcome === 'ok';
    const scheduledAt = info.scheduledAt.getTime();
    const replay = this.#replays.size === 0 ? undefined : this.#replays.get(activation.taskId);
    if (replay !== undefined && (replay.scheduledAt !== scheduledAt || info.outcome !== 'retried')) {
      this.#replays.delete(activation.taskId); // that slot is settled
    }
    let error = ok || info.outcome === 'cancelled' ? null : errorText(info.error);
    // Given up after RUN_RETRY_WINDOW: an error run, but the task goes on with its next slot.
    if (info.gaveUp) {
      error = `gave up on this run after retrying for ${RUN_RETRY_WINDOW_MINUTES} minutes: ${error}`;
      this.#log.warn({ taskId: activation.taskId, scheduledAt: info.scheduledAt, error }, 'run given up');
    } else if (info.outcome === 'retried') {
      // info, not warn: in a Discord outage every task retries several times per run.
      this.#log.info(
        { taskId: activation.taskId, scheduledAt: info.scheduledAt, retryAt: info.nextIteration, error },
        'run failed; retrying',
      );
    }
    // A cancel (by command) that cut a run after its handler was called: it may have posted, so it counts,
    // or a task cancelled after its post and started again would post once more than its count.
    const cutShort = info.outcome === 'cancelled' && !this.#closing && activation.calledSlot === scheduledAt;
    const late = ok && replay?.late === true && replay.scheduledAt === scheduledAt;
    if (late) {
      this.#log.warn(
        { taskId: activation.taskId, scheduledAt: info.scheduledAt },
        'gave up replaying a run past the retry window; recorded as interrupted',
      );
    }
    const record: IterationRecord = {
      taskId: activation.taskId,
      scheduledAt,
      startedAt: info.startedAt.getTime(),
      finishedAt: info.finishedAt.getTime(),
      outcome: late ? 'interrupted' : info.outcome,
      error,
      currentLoop: ok || cutShort ? info.iteration + 1 : info.iteration,
      lastRunAt: ok || cutShort ? scheduledAt : null, // null: keep the last success (see recordIterations)
      // An iteration that did not finish (cancelled at shutdown, say) leaves its slot owed, for resumeAll.
      nextRunAt: info.nextIteration?.getTime() ?? (ok ? null : scheduledAt),
      lastError: error,
      // A retry is the same slot still in flight. An attempt aborted at shutdown may have posted: its intent
      // stays, so the next start-up replays the slot with its nonce, or records it as interrupted.
      settlesSlot: info.outcome !== 'retried' && !(info.outcome === 'cancelled' && this.#closing),
    };
    this.#journal.record(record);
    this.recorded(record, activation.kind, info.gaveUp === true);
    // The slot is settled and the next one is not near: the Loop is let go, and the task parked (see #ended).
    const nextMs = info.nextIteration?.getTime() ?? Number.NaN;
    if (
      (ok || info.gaveUp === true) &&
      nextMs - info.finishedAt.getTime() >= KEEP_LOOP_MS &&
      !this.#closing &&
      this.#active.get(activation.taskId) === activation
    ) {
      activation.parkAt = nextMs;
      activation.loop.stop();
    }
  }

  /**
   * The clock jumped past a slot, or the process stalled through it, and the catch-up policy skipped it, as
   * after downtime: not a run, not counted. The row's next run moves on so /task list does not show the past.
   */
  #loopSlotMissed(activation: Activation, info: SlotMissedInfo): void {
    const { taskId, kind, loop } = activation;
    const nextRunAt = info.nextIteration?.getTime() ?? null;
    this.slotMissed(taskId, kind, loop.currentLoop, info.scheduledAt.getTime(), nextRunAt);
  }

  #ended(activation: Activation, reason: LoopEndReason, error: unknown): void {
    // At shutdown rows stay `running`; a replaced or deleted run no longer speaks for its task.
    if (this.#closing || this.#active.get(activation.taskId) !== activation) return;
    this.#active.delete(activation.taskId);
    if (reason === 'stopped' && !Number.isNaN(activation.parkAt)) {
      // Stopped by #iterationEnded to be let go: the row already says running, with this next run.
      this.#parked.park(activation.taskId, activation.parkAt, activation.loop.schedule.kind === 'relative');
      return;
    }
    this.#journal.flush();
    // Each way a loop ends is also the name of the state it leaves the task in.
    const patch = { state: reason satisfies TaskState, nextRunAt: null, updatedAt: Date.now() };
    if (reason === 'failed') {
      const row = updateTask(this.#db, activation.taskId, { ...patch, lastError: errorText(error) });
      this.#log.warn({ guildId: row?.guildId, task: row?.name, error: errorText(error) }, 'task failed');
    } else {
      updateTask(this.#db, activation.taskId, patch);
    }
    // The run's last records (a cancelled iteration leaves its slot owed) must not bring a next run back.
    this.#journal.rebase(activation.taskId, { nextRunAt: null });
  }
}

interface Replay {
  scheduledAt: number;
  firstStartedAt: number;
  /** Its retry came past the window and was not run (see #replayTooLate). */
  late: boolean;
}
