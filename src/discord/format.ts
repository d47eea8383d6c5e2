// How tasks read back to admins: schedules in words, times as Discord timestamps, lists that fit a message.
import type { Task, TaskRun, TaskSchedule } from '../db/index.js';
import { formatEvery, quote } from './input.js';

/** Discord refuses message content over 2000 characters. */
const MAX_MESSAGE_LENGTH = 2000;

/**
 * `every 1h30m`, `daily at 09:00, 18:30 (Europe/Paris)`, `every Mon, Fri at 09:00 (UTC)`,
 * `cron 0 9 * * 1 (UTC)`, `once, on Thu 24 Dec 2026 18:00 (Europe/Paris)`.
 */
export function describeSchedule(schedule: TaskSchedule): string {
  switch (schedule.kind) {
    case 'interval':
      return `every ${formatEvery(schedule.seconds)}`;
    case 'times': {
      const times = schedule.times.join(', ');
      if (schedule.days === undefined) return `daily at ${times} (${schedule.timeZone})`;
      return `every ${schedule.days.map((day) => WEEKDAYS[day - 1]).join(', ')} at ${times} (${schedule.timeZone})`;
    }
    case 'cron':
      return `cron \`${schedule.cron}\` (${schedule.timeZone})`;
    case 'once':
      return `once, on ${dateLabel(schedule.at, schedule.timeZone, true)} (${schedule.timeZone})`;
  }
}

/** ISO weekday names, Monday first. */
export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** `Thu 24 Dec 2026 18:00` (the year when asked) on the wall clock of `timeZone`. */
export function dateLabel(instantMs: number, timeZone: string, withYear: boolean): string {
  let format = dateFormats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    dateFormats.set(timeZone, format);
  }
  const part: Record<string, string> = {};
  for (const { type, value } of format.formatToParts(instantMs)) part[type] = value;
  const seconds = part.second === '00' ? '' : `:${part.second}`;
  const year = withYear ? ` ${part.year}` : '';
  return `${part.weekday} ${part.day} ${part.month}${year} ${part.hour}:${part.minute}${seconds}`;
}

const unix = (ms: number): number => Math.floor(ms / 1000);

/** `<t:…:F> (<t:…:R>)`: the full date in the reader's own time zone, then "in 5 minutes". */
function fullAndRelative(ms: number): string {
  return `<t:${unix(ms)}:F> (<t:${unix(ms)}:R>)`;
}

export function relative(ms: number): string {
  return `<t:${unix(ms)}:R>`;
}

export function shortTime(ms: number): string {
  return `<t:${unix(ms)}:f>`;
}

/** "Next run: …" for a task, or why there is none. */
export function nextRunLine(task: Pick<Task, 'state' | 'nextRunAt' | 'count' | 'currentLoop'>): string {
  if (task.state === 'running' && task.nextRunAt !== null)
    return `Next run: ${fullAndRelative(task.nextRunAt)}.`;
  if (task.state === 'completed')
    return task.count === null ? 'It has completed.' : `It has completed all ${task.count} runs.`;
  return `It is ${task.state}, so nothing is scheduled.`;
}

/** `3 of 10 runs done` or `3 runs done`. */
export function progress(task: Pick<Task, 'currentLoop' | 'count'>): string {
  const total = task.count ?? task.currentLoop;
  const runs = total === 1 ? 'run' : 'runs';
  return task.count === null
    ? `${task.currentLoop} ${runs} done`
    : `${task.currentLoop} of ${task.count} ${runs} done`;
}

/** What an interrupted run means, for an admin reading its history. */
export const INTERRUPTED_RUN = 'interrupted (the bot stopped during this run; it may or may not have posted)';

/** What a missed one-off means: catch-up `skip` does not run it late. */
export const MISSED_RUN =
  'missed (the bot was down at that time, and catch-up skip does not run it late; catch-up once would have)';

/**
 * One run in a task's history: `• <slot> ok (12 ms)`, `• <slot> error: "…" (3 ms)`. An interrupted run shows
 * no duration: it ended when the bot stopped, and was only recorded when it started again.
 */
export function describeRun(
  run: Pick<TaskRun, 'scheduledAt' | 'startedAt' | 'finishedAt' | 'outcome' | 'error'>,
): string {
  if (run.outcome === 'interrupted') return `• ${shortTime(run.scheduledAt)} ${INTERRUPTED_RUN}`;
  if (run.outcome === 'missed') return `• ${shortTime(run.scheduledAt)} ${MISSED_RUN}`;
  const outcome = run.error ? `${run.outcome}: ${quote(run.error, 150)}` : run.outcome;
  return `• ${shortTime(run.scheduledAt)} ${outcome} (${Math.max(0, run.finishedAt - run.startedAt)} ms)`;
}

/** Joins lines, dropping the tail (with a note of how many) so the message stays under Discord's limit. */
export function fitLines(header: string, lines: readonly string[], max = MAX_MESSAGE_LENGTH): string {
  const roomForNote = 24; // "\n…and 12345 more."
  let text = header;
  for (let index = 0; index < lines.length; index++) {
    const next = `${text}\n${lines[index]}`;
    const isLast = index === lines.length - 1;
    if (next.length > max - (isLast ? 0 : roomForNote)) return `${text}\n…and ${lines.length - index} more.`;
    text = next;
  }
  return text;
}
