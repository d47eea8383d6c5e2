// The tasks this process runs. A running task has a Loop only while an iteration is in flight or about to be:
// between runs it is parked (parking.ts: its slot and id in a compact queue), and woken into a new Loop when its
// slot comes (waking.ts). What its Loop reports is handled by iterations.ts.
import type { Db, IterationRecord, RunIntent, Task, TaskTiming } from '../db/index.js';
import type { Logger } from '../log.js';
import { Activation } from './activation.js';
import type { TaskExecutor } from './attempt.js';
import type { RuntimeEvents } from './events.js';
import { Iterations, KEEP_LOOP_MS, type MissedSlot } from './iterations.js';
import type { RunJournal } from './journal.js';
import { ParkedTasks, type Wake } from './parking.js';
import { wakeParked } from './waking.js';

export { KEEP_LOOP_MS } from './iterations.js';

export interface TaskLoopsOptions {
  db: Db;
  execute: TaskExecutor;
  log: Logger;
  journal: RunJournal;
  events: RuntimeEvents;
}

export class TaskLoops {
  readonly #journal: RunJournal;
  /** The live Loop of each running (or still ending) task, by task id: only those with a run in flight or near. */
  readonly #active = new Map<number, Activation>();
  /** Running tasks waiting for a later slot, without a Loop. */
  readonly #parked: ParkedTasks;
  /** The callbacks of every Loop built here. */
  readonly #iterations: Iterations;
  #closing = false;

  constructor(options: TaskLoopsOptions) {
    this.#journal = options.journal;
    this.#iterations = new Iterations(options, this);
    this.#parked = new ParkedTasks((wakes, count) => wakeParked(wakes, count, options, this));
  }

  /** Set by shutdown(): rows stay `running` from then on, for the next start-up. */
  get closing(): boolean {
    return this.#closing;
  }

  /** How many tasks run here: with a live Loop, or parked until their next slot. */
  get size(): number {
    return this.#active.size + this.#parked.size;
  }

  /** Of size, the tasks with a live Loop. */
  get liveCount(): number {
    return this.#active.size;
  }

  /** Of size, the tasks parked without a Loop. */
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
    return new Activation(task, this.#iterations);
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

  /** Whether this run still speaks for its task: not replaced, deleted, let go or ended. */
  isCurrent(activation: Activation): boolean {
    return this.#active.get(activation.taskId) === activation;
  }

  /** Waits without a Loop until `slotMs`, on the monotonic clock or the wall clock. */
  park(taskId: number, slotMs: number, monotonic: boolean): void {
    this.#parked.park(taskId, slotMs, monotonic);
  }

  /** The slot a crash interrupted, to be run again (resumeAll); its first attempt started at `intent`. */
  expectReplay(taskId: number, intent: RunIntent): void {
    this.#iterations.expectReplay(taskId, intent);
  }

  /** A new run's slots are its own: an open attempt of the old run is not replayed into it. */
  forgetReplay(taskId: number): void {
    this.#iterations.forgetReplay(taskId);
  }

  /** Tells the event stream a run was recorded. */
  recorded(record: IterationRecord, kind: string): void {
    this.#iterations.recorded(record, kind);
  }

  /** A slot missed while parked (waking.ts): recorded, or the row's next run moved on. */
  missedSlot(slot: MissedSlot): void {
    this.#iterations.missedSlot(slot);
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
}
