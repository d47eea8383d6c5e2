// Start-up recovery, planned one page of running tasks at a time: where each task picks up after downtime
// (its catch-up policy), what becomes of an attempt a crash left open (replayed within the retry window, else
// recorded as interrupted and counted), and a one-off whose time passed (missed, completed). Pure planning:
// the runtime writes the plan in one transaction, then starts the loops. No timers, no database.
import type { IterationRecord, RunIntent, TaskSchedule, TaskTiming } from '../db/index.js';
import type { Logger } from '../log.js';
import type { Schedule } from '../loop/index.js';
import { interruptedSlot, resumeDueAt, settledProgress } from './definition.js';
import { errorText, interruptedRecord, missedRecord } from './journal.js';
import { engineSchedule } from './schedule.js';

export interface ResumePagePlan {
  /** Tasks to run again, each with `nextRunAt` set to its first slot (and `currentLoop` settled). */
  due: TaskTiming[];
  /** Of those, the ones whose stored next run changed. */
  moved: { id: number; nextRunAt: number }[];
  /** Records written before any loop starts: interrupted attempts and missed one-offs. */
  settled: IterationRecord[];
  /** Tasks that end here: their last run was interrupted, or their one-off was missed. */
  completed: number[];
  /** Tasks replaying the slot a crash interrupted, with the attempt left open. */
  replays: Map<number, RunIntent>;
  /** Tasks whose stored schedule the engine refuses: marked failed. */
  broken: { id: number; error: string }[];
}

export interface ResumeInput {
  nowMs: number;
  retryWindowMs: number;
  /** Open attempts by task; the page's entries are taken out, so what is left belongs to tasks not running. */
  open: Map<number, RunIntent>;
  /** Engine schedules already normalized, shared across pages: tasks share their stored schedule objects. */
  schedules: Map<TaskSchedule, Schedule>;
  /** A task already running in this process (resumeAll called twice) is left alone. */
  isActive(taskId: number): boolean;
  log: Logger;
}

export function planResumePage(page: readonly TaskTiming[], input: ResumeInput): ResumePagePlan {
  const { nowMs, open, log } = input;
  const plan: ResumePagePlan = {
    due: [],
    moved: [],
    settled: [],
    completed: [],
    replays: new Map(),
    broken: [],
  };
  for (const task of page) {
    const intent = open.get(task.id);
    open.delete(task.id);
    if (input.isActive(task.id)) continue;
    const slot = intent && interruptedSlot(task, intent, nowMs, input.retryWindowMs);
    try {
      let schedule = input.schedules.get(task.schedule);
      if (schedule === undefined) {
        schedule = engineSchedule(task.schedule);
        input.schedules.set(task.schedule, schedule);
      }
      let dueMs: number;
      if (slot?.replay) {
        task.currentLoop = slot.currentLoop;
        dueMs = slot.dueMs;
        plan.replays.set(task.id, intent!);
        log.info(
          { taskId: task.id, scheduledAt: new Date(dueMs) },
          'running again the slot the bot stopped during (same nonce)',
        );
      } else if (slot) {
        log.warn(
          { taskId: task.id, scheduledAt: new Date(intent!.scheduledAt) },
          'the bot stopped during a run too long ago to run it again; recorded as interrupted',
        );
        task.currentLoop = slot.currentLoop;
        task.lastRunAt = slot.lastRunAt;
        const done = task.count !== null && task.currentLoop >= task.count;
        dueMs = done ? Number.NaN : resumeDueAt(schedule, task, nowMs);
        plan.settled.push(interruptedRecord(intent!, slot, done ? null : dueMs, nowMs));
        if (done) {
          plan.completed.push(task.id);
          continue;
        }
      } else {
        dueMs = resumeDueAt(schedule, task, nowMs);
      }
      if (dueMs === Number.POSITIVE_INFINITY) {
        // A one-off whose time passed while the bot was down, catch-up skip: recorded as missed, and done.
        plan.settled.push(missedRecord(task, nowMs));
        plan.completed.push(task.id);
        continue;
      }
      if (dueMs !== task.nextRunAt) plan.moved.push({ id: task.id, nextRunAt: dueMs });
      task.nextRunAt = dueMs;
      plan.due.push(task);
    } catch (error) {
      plan.broken.push({ id: task.id, error: errorText(error) });
      // It will not run again, so its open attempt cannot be replayed: its outcome stays unknown.
      if (intent) plan.settled.push(interruptedRecord(intent, settledProgress(task, intent), null, nowMs));
    }
  }
  return plan;
}
