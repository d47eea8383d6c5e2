// A task's schedule: the one stored type (TaskSchedule, typed with the tasks table in src/db/schedule.ts), the
// one gate every new schedule passes (checkSchedule), and its engine form. The Discord surface only turns text
// into a TaskSchedule; whatever it would refuse, the runtime refuses here too. Pure: no database, no timers.
import { type TaskSchedule, taskScheduleSchema } from '../db/index.js';
import {
  firstDueAt,
  nextDueAfter,
  normalizeSchedule,
  type Schedule,
  type ScheduleOptions,
} from '../loop/index.js';
import { TaskError } from './errors.js';

/** The most often a task may run: Discord's rate limits and a server's patience both want a floor. */
export const MIN_INTERVAL_SECONDS = 10;
/** The longest `every`: rarer tasks read better as a time of day, a weekday or a cron. */
export const MAX_INTERVAL_SECONDS = 366 * 24 * 3600;
/** Upcoming runs of a cron checked for the minimum gap: tight gaps repeat within the first few. */
const CRON_RUNS_CHECKED = 60;

/**
 * The gate: checks a schedule as the engine will (shape by zod; then the engine's own validation: cron
 * syntax, a cron with no future run…) and by Metronome's rules (at most every 10 seconds; a one-off in the
 * future), and returns it parsed, or throws a TaskError with the reason as a sentence.
 */
export function checkSchedule(
  input: unknown,
  nowMs = Date.now(),
  minIntervalSeconds = MIN_INTERVAL_SECONDS,
): TaskSchedule {
  const parsed = taskScheduleSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw invalidSchedule(`${where}${issue?.message}`);
  }
  const schedule = parsed.data;
  const engine = engineSchedule(schedule);
  switch (schedule.kind) {
    case 'interval':
      if (schedule.seconds < minIntervalSeconds)
        throw refusal(`Tasks can run at most every ${minIntervalSeconds} seconds.`);
      if (schedule.seconds > MAX_INTERVAL_SECONDS)
        throw refusal('An interval can be at most a year; use a time of day or a cron for rare tasks.');
      break;
    case 'cron':
      if (cronTooFrequent(engine, nowMs, minIntervalSeconds)) {
        throw refusal(
          `\`${schedule.cron}\` runs more often than every ${minIntervalSeconds} seconds, the most often a task may run.`,
        );
      }
      break;
    case 'once':
      if (schedule.at <= nowMs) throw refusal('That time has already passed; pick one in the future.');
      break;
    case 'times':
      break;
  }
  return schedule;
}

/** The loop options a stored schedule stands for: the one converter between the two vocabularies. */
export function toLoopOptions(schedule: TaskSchedule): ScheduleOptions {
  switch (schedule.kind) {
    case 'interval':
      return { seconds: schedule.seconds };
    case 'times':
      return schedule.days === undefined
        ? { time: schedule.times, timeZone: schedule.timeZone }
        : { time: schedule.times, days: schedule.days, timeZone: schedule.timeZone };
    case 'cron':
      return { cron: schedule.cron, timeZone: schedule.timeZone };
    case 'once':
      return { at: schedule.at };
  }
}

/** The engine's normalized form of a schedule; a TaskError if the engine refuses it. */
export function engineSchedule(schedule: TaskSchedule): Schedule {
  return normalizeOrRefuse(schedule, invalidSchedule);
}

/**
 * The engine's form of a task's stored schedule, checked before a command starts it. A schedule stored by an
 * older Metronome that the engine now refuses throws a TaskError telling the admin how to fix it, rather than
 * the engine's RangeError, which the command could only answer with "something went wrong".
 */
export function storedEngineSchedule(task: { name: string; schedule: TaskSchedule }): Schedule {
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

/**
 * The next `count` runs at or after `fromMs` (a running task's stored next run, say), DST-correct: a relative
 * schedule counts from `fromMs` itself; a one-off has its one run, or none once past.
 */
export function upcomingRuns(schedule: TaskSchedule | Schedule, fromMs: number, count: number): number[] {
  const engine = engineOf(schedule);
  const runs: number[] = [];
  if (count < 1) return runs;
  let dueMs = engine.kind === 'once' ? engine.atMs : firstDueAt(engine, fromMs);
  const anchorMs = dueMs;
  while (runs.length < count && Number.isFinite(dueMs) && dueMs >= fromMs) {
    runs.push(dueMs);
    dueMs = nextDueAfter(engine, { anchorMs, lastDueMs: dueMs, nowMs: dueMs + 1 });
  }
  return runs;
}

/** A schedule in the engine's form, whichever form it came in (a cron reads the same in both). */
function engineOf(schedule: TaskSchedule | Schedule): Schedule {
  if (schedule.kind === 'relative' || schedule.kind === 'time') return schedule;
  if (schedule.kind === 'once' && 'atMs' in schedule) return schedule;
  return engineSchedule(schedule as TaskSchedule);
}

/** Whether two consecutive runs among the next few come closer than the minimum interval. */
function cronTooFrequent(schedule: Schedule, nowMs: number, minIntervalSeconds: number): boolean {
  const runs = upcomingRuns(schedule, nowMs, CRON_RUNS_CHECKED);
  return runs.some((runMs, i) => i > 0 && runMs - runs[i - 1]! < minIntervalSeconds * 1000);
}

/** The TaskError for a schedule refused by zod or by the engine, `reason` being their message. */
function invalidSchedule(reason: string): TaskError {
  return new TaskError('invalid_schedule', `That schedule is not valid (${reason}).`);
}

/** The TaskError for a schedule refused by Metronome's own rules, as a whole sentence. */
function refusal(sentence: string): TaskError {
  return new TaskError('invalid_schedule', sentence);
}

function normalizeOrRefuse(schedule: TaskSchedule, refuse: (reason: string) => TaskError): Schedule {
  try {
    return normalizeSchedule(toLoopOptions(schedule));
  } catch (error) {
    throw refuse((error as Error).message);
  }
}
