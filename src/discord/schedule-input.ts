// Turns the schedule options of `/task create` and `/task interval` (every / at / timezone / cron) into a
// stored schedule, or one sentence saying what to fix. Pure: no Discord, no database.
import type { TaskSchedule } from '../db/index.js';
import { firstDueAt, nextDueAfter, normalizeSchedule } from '../loop/index.js';
import { parseTaskSchedule, TaskError } from '../tasks/index.js';
import { fail, MIN_INTERVAL_SECONDS, ok, type Parsed, parseAt, parseEvery } from './input.js';
import { parseTimeZone } from './time-zones.js';

export interface ScheduleOptions {
  every?: string | null;
  at?: string | null;
  timezone?: string | null;
  cron?: string | null;
}

export const MISSING_SCHEDULE =
  'Give the task a schedule: `every` (like 15m), `at` (like 09:00) or `cron` (like 0 9 * * 1).';

const given = (value: string | null | undefined): value is string => value != null && value.trim() !== '';

/**
 * Exactly one of every / at / cron; a time zone only with at or cron (UTC when left out). With `current`
 * (for `/task interval`), a time zone alone moves the task's own times or cron to that zone.
 */
export function scheduleFromOptions(options: ScheduleOptions, current?: TaskSchedule): Parsed<TaskSchedule> {
  const kinds = (['every', 'at', 'cron'] as const).filter((key) => given(options[key]));
  if (kinds.length > 1) {
    return fail(
      `Give only one of \`every\`, \`at\` or \`cron\`, not ${kinds.map((k) => `\`${k}\``).join(' and ')}.`,
    );
  }
  let timeZone = 'UTC';
  if (given(options.timezone)) {
    if (kinds[0] === 'every' || (kinds.length === 0 && current?.kind === 'interval')) {
      return fail(
        'A time zone only applies to `at` and `cron` schedules; `every` counts from when the task starts.',
      );
    }
    const zone = parseTimeZone(options.timezone);
    if (!zone.ok) return zone;
    timeZone = zone.value;
  } else if (current && current.kind !== 'interval') {
    timeZone = current.timeZone;
  }
  if (kinds.length === 0) {
    if (current && current.kind !== 'interval' && given(options.timezone))
      return checked({ ...current, timeZone });
    return fail(MISSING_SCHEDULE);
  }
  switch (kinds[0]) {
    case 'every': {
      const seconds = parseEvery(options.every!);
      return seconds.ok ? checked({ kind: 'interval', seconds: seconds.value }) : seconds;
    }
    case 'at': {
      const times = parseAt(options.at!);
      return times.ok ? checked({ kind: 'times', times: times.value, timeZone }) : times;
    }
    default: {
      const schedule = checked({ kind: 'cron', cron: options.cron!.trim(), timeZone });
      if (schedule.ok && schedule.value.kind === 'cron' && cronTooFrequent(schedule.value.cron, timeZone)) {
        return fail(
          `\`${schedule.value.cron}\` runs more often than every ${MIN_INTERVAL_SECONDS} seconds, ` +
            `the most often a task may run.`,
        );
      }
      return schedule;
    }
  }
}

/** How many upcoming runs of a cron are checked for the minimum gap: tight gaps repeat within a period. */
const CRON_RUNS_CHECKED = 60;

/** Whether two consecutive runs among the next few come closer than the minimum interval `every` allows. */
export function cronTooFrequent(cron: string, timeZone: string, nowMs = Date.now()): boolean {
  const schedule = normalizeSchedule({ cron, timeZone });
  let previousMs = firstDueAt(schedule, nowMs);
  for (let run = 0; run < CRON_RUNS_CHECKED; run++) {
    const nextMs = nextDueAfter(schedule, { anchorMs: previousMs, lastDueMs: previousMs, nowMs: previousMs });
    if (nextMs - previousMs < MIN_INTERVAL_SECONDS * 1000) return true;
    previousMs = nextMs;
  }
  return false;
}

/** The engine's own check (cron syntax, a cron that never fires…), as a sentence. */
function checked(schedule: TaskSchedule): Parsed<TaskSchedule> {
  try {
    return ok(parseTaskSchedule(schedule));
  } catch (error) {
    if (error instanceof TaskError) return fail(error.message);
    throw error;
  }
}
