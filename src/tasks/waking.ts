// A parked task's wake: its row is read and a Loop built from it, to run the slot it was parked for, unless
// that slot was missed. The Loop runs a resumed first slot however late, so what the engine's own wait would
// decide is decided here: a relative grid moves with a wall-clock step (its wait was monotonic), and a slot
// seen more than MISSED_AFTER_MS late is skipped unless the task catches up `once`.
import { type Db, getTasksByIds, type Task, updateTask } from '../db/index.js';
import type { Logger } from '../log.js';
import { MISSED_AFTER_MS, nextDueAfter } from '../loop/index.js';
import { wallJumpShiftMs } from '../loop/schedule.js';
import type { Activation } from './activation.js';
import { errorText, type RunJournal } from './journal.js';
import type { Wake } from './parking.js';
import type { TaskLoops } from './task-loops.js';

/** How long a woken task whose row could not be read waits before it tries again. */
const WAKE_RETRY_MS = 1_000;

/** What a wake needs of the tasks this process runs. */
export type WakeTarget = Pick<
  TaskLoops,
  'closing' | 'isLive' | 'retryWake' | 'newActivation' | 'activate' | 'runFrom' | 'missedSlot'
>;

export interface WakeDeps {
  db: Db;
  log: Logger;
  journal: RunJournal;
}

/** Parked tasks' slots have come (see the top of this file): the first `count` of `wakes`, read together. */
export function wakeParked(wakes: readonly Wake[], count: number, deps: WakeDeps, target: WakeTarget): void {
  const { db, log } = deps;
  if (target.closing) return; // the rows stay running with their next runs: the next start-up resumes them
  const ids: number[] = [];
  for (let i = 0; i < count; i++) ids.push(wakes[i]!.taskId);
  let rows: (Task | undefined)[];
  try {
    rows = getTasksByIds(db, ids);
  } catch (error) {
    log.warn({ taskIds: ids, err: error }, 'could not read tasks whose runs are due; trying again');
    for (let i = 0; i < count; i++) target.retryWake(wakes[i]!, WAKE_RETRY_MS);
    return;
  }
  for (let i = 0; i < count; i++) {
    const wake = wakes[i]!;
    try {
      wakeOne(wake, rows[i], deps, target);
    } catch (error) {
      log.error({ taskId: wake.taskId, err: error }, 'a due task could not be woken');
    }
  }
}

/** One woken task, with its row as just read. */
function wakeOne(wake: Wake, task: Task | undefined, deps: WakeDeps, target: WakeTarget): void {
  const { journal } = deps;
  const { taskId, slotMs, lateMs, wallJumpMs } = wake;
  // Commands unpark the tasks they end, so this is a task changed by another process: it is not ours.
  if (task === undefined || task.state !== 'running' || target.isLive(taskId)) return;
  let activation: Activation;
  try {
    activation = target.newActivation(task);
  } catch (error) {
    failTask(deps, taskId, error); // a stored schedule or count the engine no longer accepts
    return;
  }
  const schedule = activation.loop.schedule;
  let dueMs = slotMs;
  if (wallJumpMs !== 0 && schedule.kind === 'relative') {
    dueMs += wallJumpShiftMs(wallJumpMs, schedule.intervalMs); // as the engine moves a live loop's grid
  }
  const currentLoop = journal.pendingCurrentLoop(taskId) ?? task.currentLoop;
  if (lateMs > MISSED_AFTER_MS && task.catchUp !== 'once') {
    const nowMs = Date.now();
    const nextMs = nextDueAfter(schedule, { anchorMs: dueMs, lastDueMs: dueMs, nowMs });
    const next = Number.isFinite(nextMs) ? nextMs : null;
    target.missedSlot({ taskId, kind: task.kind, currentLoop, scheduledAt: dueMs, nextRunAt: next });
    if (next === null) completeMissed(deps, taskId);
    else target.runFrom(task, next, currentLoop);
    return;
  }
  activation.row = task;
  target.activate(activation, dueMs, currentLoop);
}

/** A parked one-off whose slot was missed (see wakeParked) completes, as its Loop would have. */
function completeMissed({ db, log, journal }: WakeDeps, taskId: number): void {
  journal.flush();
  try {
    updateTask(db, taskId, { state: 'completed', nextRunAt: null, updatedAt: Date.now() });
  } catch (error) {
    // Its missed record says it ran out of slots; the next start-up completes it from there.
    log.warn({ taskId, err: error }, 'could not mark a missed one-off completed');
  }
  journal.rebase(taskId, { nextRunAt: null });
}

/** Marks a woken task failed: its stored definition is one the engine refuses. */
function failTask({ db, log }: WakeDeps, taskId: number, error: unknown): void {
  log.error({ taskId, error: errorText(error) }, 'task not resumed');
  try {
    updateTask(db, taskId, {
      state: 'failed',
      lastError: errorText(error),
      nextRunAt: null,
      updatedAt: Date.now(),
    });
  } catch (writeError) {
    log.warn({ taskId, err: writeError }, 'could not mark a task failed');
  }
}
