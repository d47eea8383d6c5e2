// A parked task's wake: its row is read and a Loop built from it, to run the slot it was parked for, unless
// that slot was missed. The Loop runs a resumed first slot however late, so what the engine's own wait would
// decide is decided here: a relative grid moves with a wall-clock step (its wait was monotonic), and a slot
// seen more than MISSED_AFTER_MS late is skipped unless the task catches up `once`.
import { type Db, getTaskById, type Task, type TaskTiming, updateTask } from '../db/index.js';
import type { Logger } from '../log.js';
import { MISSED_AFTER_MS, nextDueAfter } from '../loop/index.js';
import type { Activation } from './activation.js';
import { errorText, type RunJournal } from './journal.js';
import type { Wake } from './parking.js';

/** How long a woken task whose row could not be read waits before it tries again. */
const WAKE_RETRY_MS = 1_000;

/** What a wake needs of the tasks this process runs (task-loops.ts). */
export interface WakeTarget {
  /** Shutdown began: the row stays running with its next run, and the next start-up resumes it. */
  readonly closing: boolean;
  isLive(taskId: number): boolean;
  retryWake(wake: Wake, delayMs: number): void;
  newActivation(task: Task): Activation;
  activate(activation: Activation, firstDueMs: number, currentLoop: number): void;
  runFrom(task: TaskTiming, dueMs: number, currentLoop: number): void;
  slotMissed(
    taskId: number,
    kind: string,
    currentLoop: number,
    scheduledAt: number,
    nextRunAt: number | null,
  ): void;
}

export class Waker {
  readonly #db: Db;
  readonly #log: Logger;
  readonly #journal: RunJournal;
  readonly #target: WakeTarget;

  constructor(deps: { db: Db; log: Logger; journal: RunJournal }, target: WakeTarget) {
    this.#db = deps.db;
    this.#log = deps.log;
    this.#journal = deps.journal;
    this.#target = target;
  }

  /** A parked task's slot has come (see the top of this file). */
  woken(wake: Wake): void {
    const target = this.#target;
    if (target.closing) return; // the row stays running with its next run: the next start-up resumes it
    const { taskId, slotMs, lateMs, wallJumpMs } = wake;
    let task: Task | undefined;
    try {
      task = getTaskById(this.#db, taskId);
    } catch (error) {
      this.#log.warn({ taskId, err: error }, 'could not read a task whose run is due; trying again');
      target.retryWake(wake, WAKE_RETRY_MS);
      return;
    }
    // Commands unpark the tasks they end, so this is a task changed by another process: it is not ours.
    if (task === undefined || task.state !== 'running' || target.isLive(taskId)) return;
    let activation: Activation;
    try {
      activation = target.newActivation(task);
    } catch (error) {
      this.#fail(taskId, error); // a stored schedule or count the engine no longer accepts
      return;
    }
    const schedule = activation.loop.schedule;
    let dueMs = slotMs;
    if (wallJumpMs !== 0 && schedule.kind === 'relative') {
      // As the engine does: rounded down, never early; a whole-interval step back would repeat slots (nonces).
      let shiftMs = Math.floor(wallJumpMs);
      if (shiftMs < 0 && shiftMs % schedule.intervalMs === 0) shiftMs -= 1;
      dueMs += shiftMs;
    }
    const currentLoop = this.#journal.pendingCurrentLoop(taskId) ?? task.currentLoop;
    if (lateMs > MISSED_AFTER_MS && task.catchUp !== 'once') {
      const nowMs = Date.now();
      const nextMs = nextDueAfter(schedule, { anchorMs: dueMs, lastDueMs: dueMs, nowMs });
      const next = Number.isFinite(nextMs) ? nextMs : null;
      target.slotMissed(taskId, task.kind, currentLoop, dueMs, next);
      if (next === null) this.#completeMissed(taskId);
      else target.runFrom(task, next, currentLoop);
      return;
    }
    activation.row = task;
    target.activate(activation, dueMs, currentLoop);
  }

  /** A parked one-off whose slot was missed (see woken) completes, as its Loop would have. */
  #completeMissed(taskId: number): void {
    this.#journal.flush();
    try {
      updateTask(this.#db, taskId, { state: 'completed', nextRunAt: null, updatedAt: Date.now() });
    } catch (error) {
      // Its missed record says it ran out of slots; the next start-up completes it from there.
      this.#log.warn({ taskId, err: error }, 'could not mark a missed one-off completed');
    }
    this.#journal.rebase(taskId, { nextRunAt: null });
  }

  /** Marks a woken task failed: its stored definition is one the engine refuses. */
  #fail(taskId: number, error: unknown): void {
    this.#log.error({ taskId, error: errorText(error) }, 'task not resumed');
    try {
      updateTask(this.#db, taskId, {
        state: 'failed',
        lastError: errorText(error),
        nextRunAt: null,
        updatedAt: Date.now(),
      });
    } catch (writeError) {
      this.#log.warn({ taskId, err: writeError }, 'could not mark a task failed');
    }
  }
}
