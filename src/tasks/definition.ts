import {
  type CatchUpPolicy,
  catchUpPolicies,
  type NewTask,
  type RunIntent,
  type Task,
  type TaskSchedule,
} from '../db/index.js';
import { firstDueAt, nextDueAfter, type Schedule } from '../loop/index.js';
import { TaskError } from './errors.js';
import { checkSchedule, engineSchedule } from './schedule.js';

// Pure rules about a task's definition: its name, count, catch-up policy and timeout, and where a resumed
// task picks up (its schedule has its own module, schedule.ts). No database, no timers.

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

/** A run's timeout when the definition gives none. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** What `/task create` supplies. The handler layer validates `kind` and `options` before calling create. */
export interface TaskDefinition {
  name: string;
  kind: string;
  options?: Record<string, unknown>;
  schedule: TaskSchedule;
  /** Iterations to run, then the task completes; null or omitted = forever. */
  count?: number | null;
  catchUp?: CatchUpPolicy;
  /** Per-iteration timeout; default 60 s, at most 15 min. */
  timeoutMs?: number;
  channelId: string;
  createdBy: string;
  /** Start running at once (default true). */
  start?: boolean;
}

/** A definition checked through the gates (name, schedule, count, timeout, catch-up) as the row to insert. */
export function checkedTaskRow(
  guildId: string,
  def: TaskDefinition,
  now: number,
  minIntervalSeconds?: number,
): NewTask {
  checkTaskName(def.name);
  const schedule = checkSchedule(def.schedule, now, minIntervalSeconds);
  const count = checkCount(def.count ?? null);
  const timeoutMs = checkTimeout(def.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const catchUp = checkCatchUp(def.catchUp ?? 'skip');
  const start = def.start ?? true;
  return {
    guildId,
    name: def.name,
    kind: def.kind,
    options: def.options ?? {},
    schedule,
    count,
    catchUp,
    timeoutMs,
    channelId: def.channelId,
    createdBy: def.createdBy,
    state: start ? 'running' : 'stopped',
    nextRunAt: start ? firstDueAt(engineSchedule(schedule), now) : null,
    createdAt: now,
    updatedAt: now,
  };
}

/** The shortest per-iteration timeout, as /task's timeout option allows: a run gets at least a second. */
export const MIN_TIMEOUT_MS = 1_000;
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
  if (Number.isSafeInteger(timeoutMs) && timeoutMs < MIN_TIMEOUT_MS) {
    throw new TaskError(
      'invalid_definition',
      'A timeout must be at least 1 second: it can be between 1 second and 15 minutes.',
    );
  }
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs > MAX_TIMEOUT_MS) {
    throw new TaskError('invalid_definition', 'The timeout must be between 1 second and 15 minutes.');
  }
  return timeoutMs;
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
