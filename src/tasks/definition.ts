import {
  type CatchUpPolicy,
  catchUpPolicies,
  type RunIntent,
  type Task,
  type TaskSchedule,
  taskScheduleSchema,
} from '../db/index.js';
import {
  firstDueAt,
  nextDueAfter,
  normalizeSchedule,
  type Schedule,
  type ScheduleOptions,
} from '../loop/index.js';
import { TaskError } from './errors.js';

// Pure rules about a task's definition: its name, count, catch-up policy and timeout, its schedule as loop
// options, and where a resumed task picks up. No database, no timers.

export const TASK_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export function checkTaskName(name: string): void {
  if (!TASK_NAME_PATTERN.test(name)) {
    throw new TaskError(
      'invalid_name',
      `"${name}" is not a valid task name: use 1 to 32 lowercase letters, digits, "-" or "_", ` +
        'starting with a letter or digit.',
    );
  }
}

/** The longest per-iteration timeout a task may have; /task's timeout option should check against it. */
export const MAX_TIMEOUT_MS = 15 * 60_000;

export function checkCount(count: number | null): number | null {
  if (count !== null && (!Number.isSafeInteger(count) || count < 1)) {
    throw new TaskError(
      'invalid_definition',
      'The count must be a whole number of at least 1, or empty for forever.',
    );
  }
  return count;
}

export function checkCatchUp(catchUp: string): CatchUpPolicy {
  if (!(catchUpPolicies as readonly string[]).includes(catchUp)) {
    throw new TaskError('invalid_definition', 'The catch-up policy must be "skip" or "once".');
  }
  return catchUp as CatchUpPolicy;
}

export function checkTimeout(timeoutMs: number): number {
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new TaskError('invalid_definition', 'The timeout must be between 1 ms and 15 minutes.');
  }
  return timeoutMs;
}

/** The loop options a stored schedule stands for. */
export function toLoopOptions(schedule: TaskSchedule): ScheduleOptions {
  switch (schedule.kind) {
    case 'interval':
      return { seconds: schedule.seconds };
    case 'times':
      return { time: schedule.times, timeZone: schedule.timeZone };
    case 'cron':
      return { cron: schedule.cron, timeZone: schedule.timeZone };
  }
}

/**
 * Checks a schedule the way the loop engine will (shape by zod, then the engine's own validation: cron
 * syntax, a cron with no future run…) and returns it parsed, or throws a TaskError with the reason.
 */
export function parseTaskSchedule(input: unknown): TaskSchedule {
  const parsed = taskScheduleSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw invalidSchedule(`${where}${issue?.message}`);
  }
  engineSchedule(parsed.data);
  return parsed.data;
}

/**
 * The engine's normalized form of a stored schedule, checked by the engine's own validator; throws a
 * TaskError if the engine rejects it.
 */
export function engineSchedule(schedule: TaskSchedule): Schedule {
  return normalizeOrRefuse(schedule, invalidSchedule);
}

/**
 * The engine's form of a task's stored schedule, checked before a command starts it. A schedule stored
 * by an older Metronome that the engine now refuses throws a TaskError telling the admin how to fix it,
 * rather than the engine's RangeError, which the command could only answer with "something went wrong".
 */
export function storedEngineSchedule(task: Pick<Task, 'name' | 'schedule'>): Schedule {
  return normalizeOrRefuse(
    task.schedule,
    (reason) =>
      new TaskError(
        'invalid_schedule',
        `Task "${task.name}" has a saved schedule Metronome no longer accepts (${reason}); ` +
          'set a new one with /task interval, then start it again.',
      ),
  );
}

/** The TaskError for a schedule refused by zod or by the engine, `reason` being their message. */
export function invalidSchedule(reason: string): TaskError {
  return new TaskError('invalid_schedule', `That schedule is not valid (${reason}).`);
}

function normalizeOrRefuse(schedule: TaskSchedule, refuse: (reason: string) => TaskError): Schedule {
  try {
    return normalizeSchedule(toLoopOptions(schedule));
  } catch (error) {
    throw refuse((error as Error).message);
  }
}

/**
 * When a task resumed at `nowMs` next runs, from what is stored: its slot grid (anchored on the last slot it
 * ran, or on its first slot if it never ran) and its catch-up policy.
 * - No slot missed: the next slot.
 * - Slots missed while down, policy `skip`: the next future slot.
 * - Slots missed, policy `once`: the first missed slot, which is in the past, so the engine runs it at once
 *   and then returns to the grid. Using the first missed slot (not the last) matters: it is the one a
 *   crash may have interrupted mid-post, and re-running it carries the same nonce.
 */
export function resumeDueAt(
  schedule: Schedule,
  task: Pick<Task, 'lastRunAt' | 'nextRunAt' | 'catchUp'>,
  nowMs: number,
): number {
  const anchorMs = task.lastRunAt ?? task.nextRunAt;
  if (anchorMs === null) return firstDueAt(schedule, nowMs);
  const lastDueMs = task.lastRunAt ?? Number.NEGATIVE_INFINITY;
  const owedMs =
    task.lastRunAt === null
      ? anchorMs
      : nextDueAfter(schedule, { anchorMs, lastDueMs, nowMs: task.lastRunAt + 1 });
  if (owedMs >= nowMs || task.catchUp === 'once') return owedMs;
  return nextDueAfter(schedule, { anchorMs, lastDueMs, nowMs });
}

/** What start-up does with a slot a crash interrupted: see interruptedSlot(). */
export type InterruptedSlot =
  | { replay: true; currentLoop: number; dueMs: number }
  | ({ replay: false } & SettledProgress);

/** A task's progress once an interrupted slot is settled without running it again. */
export interface SettledProgress {
  currentLoop: number;
  lastRunAt: number;
}

/**
 * Where a task picks up whose attempt was in flight when the process died (it has a run intent), at `nowMs`.
 * - The attempt started less than `retryWindowMs` ago: replay that slot now, as the same iteration. Same
 *   slot, same nonce, so Discord drops a post the attempt already made, and the slot is counted once.
 * - Otherwise a post it made could show up again, so it is not retried: it is `interrupted` (outcome
 *   unknown) and settled as done (settledProgress); the task goes on after that slot.
 * The intent's iteration is the count before the attempt; the row may be behind it when the records of
 * earlier slots were still waiting to be written.
 */
export function interruptedSlot(
  task: Pick<Task, 'currentLoop' | 'lastRunAt'>,
  intent: Pick<RunIntent, 'scheduledAt' | 'startedAt' | 'iteration'>,
  nowMs: number,
  retryWindowMs: number,
): InterruptedSlot {
  if (nowMs - intent.startedAt < retryWindowMs) {
    return {
      replay: true,
      currentLoop: Math.max(task.currentLoop, intent.iteration),
      dueMs: intent.scheduledAt,
    };
  }
  return { replay: false, ...settledProgress(task, intent) };
}

/**
 * An interrupted slot settled without running it again counts as done, so a count is never exceeded, and it
 * is the task's last slot, so the catch-up policy goes on after it.
 */
export function settledProgress(
  task: Pick<Task, 'currentLoop' | 'lastRunAt'>,
  intent: Pick<RunIntent, 'scheduledAt' | 'iteration'>,
): SettledProgress {
  return {
    currentLoop: Math.max(task.currentLoop, intent.iteration + 1),
    lastRunAt: Math.max(task.lastRunAt ?? intent.scheduledAt, intent.scheduledAt),
  };
}
