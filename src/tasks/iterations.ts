// What each task's Loop reports, and what is done with it: each iteration (its attempt's start committed before
// its handler is called, then its record), a slot the clock or a stall made it miss, and the end of its run.
// Each is written back as it happens (by the run journal), so the rows always say what to resume.
import {
  type Db,
  getTaskById,
  type IterationRecord,
  type RunIntent,
  setNextRuns,
  type Task,
  type TaskState,
  updateTask,
} from '../db/index.js';
import type { Logger } from '../log.js';
import {
  type IterationEndInfo,
  type LoopContext,
  type LoopEndReason,
  type SlotMissedInfo,
  TransientError,
} from '../loop/index.js';
import {
  type Activation,
  RUN_RETRY_WINDOW_MINUTES,
  RUN_RETRY_WINDOW_MS,
  type RuntimeCallbacks,
} from './activation.js';
import { attempt, type TaskExecutor } from './attempt.js';
import type { RuntimeEvents } from './events.js';
import { errorText, missedRecord, type RunJournal } from './journal.js';

/**
 * A task whose next slot is nearer than this keeps its Loop; a later one is parked. Building a Loop at a wake
 * costs a few microseconds more than keeping one, and a kept Loop ~1.5 KB: worth it only for a slot this close.
 */
export const KEEP_LOOP_MS = 10;

export interface IterationsOptions {
  db: Db;
  execute: TaskExecutor;
  log: Logger;
  journal: RunJournal;
  events: RuntimeEvents;
}

/** What the loop callbacks need of the tasks this process runs (task-loops.ts). */
export interface IterationsHost {
  /** Shutdown began: rows stay `running`, for the next start-up. */
  readonly closing: boolean;
  /** Whether this run still speaks for its task: not replaced, deleted, let go or ended. */
  isCurrent(activation: Activation): boolean;
  /** Its run ended: the task no longer has a live Loop. */
  forget(taskId: number): void;
  /** Waits without a Loop until `slotMs` (see parking.ts). */
  park(taskId: number, slotMs: number, monotonic: boolean): void;
}

/** A slot skipped by the catch-up policy, and the task's next run after it (null: it had no other). */
export interface MissedSlot {
  taskId: number;
  kind: string;
  /** The task's progress, which a missed slot does not change. */
  currentLoop: number;
  scheduledAt: number;
  nextRunAt: number | null;
}

export class Iterations implements RuntimeCallbacks {
  readonly #db: Db;
  readonly #execute: TaskExecutor;
  readonly #log: Logger;
  readonly #journal: RunJournal;
  readonly #events: RuntimeEvents;
  readonly #host: IterationsHost;
  /** Slots being replayed after a crash, by task, with the start of their first attempt before it. */
  readonly #replays = new Map<number, Replay>();
  /**
   * The attempt in flight of each task, until its handler settles or its timeout abandons it. A cancelled
   * loop ends without waiting for it, so the first iteration of a new run (start, restart) waits for it in
   * iterate: a new run must not overlap the old handler (a counter posting its message before the old run
   * saved the id would post a second one). The command itself answers at once.
   */
  readonly #inFlight = new Map<number, Promise<void>>();

  constructor(options: IterationsOptions, host: IterationsHost) {
    this.#db = options.db;
    this.#execute = options.execute;
    this.#log = options.log;
    this.#journal = options.journal;
    this.#events = options.events;
    this.#host = host;
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

  /** Tells the event stream a run was recorded; costs nothing while no one listens. */
  recorded(record: IterationRecord, kind: string, gaveUp = false): void {
    if (this.#events.listenerCount('runRecorded') === 0) return;
    const { taskId, outcome, scheduledAt, startedAt, finishedAt } = record;
    this.#events.emit('runRecorded', { taskId, kind, outcome, gaveUp, scheduledAt, startedAt, finishedAt });
  }

  /** A missed slot (see slotMissed and waking.ts), before the task goes on with `nextRunAt` or completes. */
  missedSlot({ taskId, kind, currentLoop, scheduledAt, nextRunAt }: MissedSlot): void {
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

  /**
   * The loop callback of every task. The attempt's start is committed first (with the rest of the tick's,
   * by the journal), and only then is the executor called, bounded by the task's timeout. An arrow: each
   * Loop is handed it unbound, as its callback.
   */
  readonly iterate = (activation: Activation, loopContext: LoopContext): Promise<void> => {
    const previous = this.#inFlight.size === 0 ? undefined : this.#inFlight.get(activation.taskId);
    if (previous !== undefined) {
      // Bounded by the old attempt's timeout, past which it is abandoned and settles.
      return previous.then(
        () => this.#iterateNow(activation, loopContext),
        () => this.#iterateNow(activation, loopContext),
      );
    }
    return this.#iterateNow(activation, loopContext);
  };

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
    if (!this.#host.isCurrent(activation) || !current.isRunning() || current.isBeingCancelled()) {
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

  iterationEnded(activation: Activation, info: IterationEndInfo): void {
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
    const cutShort =
      info.outcome === 'cancelled' && !this.#host.closing && activation.calledSlot === scheduledAt;
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
      settlesSlot: info.outcome !== 'retried' && !(info.outcome === 'cancelled' && this.#host.closing),
    };
    this.#journal.record(record);
    this.recorded(record, activation.kind, info.gaveUp === true);
    // The slot is settled and the next one is not near: the Loop is let go, and the task parked (see ended).
    const nextMs = info.nextIteration?.getTime() ?? Number.NaN;
    if (
      (ok || info.gaveUp === true) &&
      nextMs - info.finishedAt.getTime() >= KEEP_LOOP_MS &&
      !this.#host.closing &&
      this.#host.isCurrent(activation)
    ) {
      activation.parkAt = nextMs;
      activation.loop.stop();
    }
  }

  /**
   * The clock jumped past a slot, or the process stalled through it, and the catch-up policy skipped it, as
   * after downtime: not a run, not counted. The row's next run moves on so /task list does not show the past.
   */
  slotMissed(activation: Activation, info: SlotMissedInfo): void {
    const { taskId, kind, loop } = activation;
    const nextRunAt = info.nextIteration?.getTime() ?? null;
    this.missedSlot({
      taskId,
      kind,
      currentLoop: loop.currentLoop,
      scheduledAt: info.scheduledAt.getTime(),
      nextRunAt,
    });
  }

  ended(activation: Activation, reason: LoopEndReason, error: unknown): void {
    // At shutdown rows stay `running`; a replaced or deleted run no longer speaks for its task.
    if (this.#host.closing || !this.#host.isCurrent(activation)) return;
    this.#host.forget(activation.taskId);
    if (reason === 'stopped' && !Number.isNaN(activation.parkAt)) {
      // Stopped by iterationEnded to be let go: the row already says running, with this next run.
      this.#host.park(activation.taskId, activation.parkAt, activation.loop.schedule.kind === 'relative');
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
