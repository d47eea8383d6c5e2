// A task's next runs as /task info shows them: Discord timestamps, so each reader sees their own local time,
// and, for a schedule kept in a time zone, each run's time in UTC, marked where the zone's clocks change.
import type { Task } from '../db/index.js';
import { upcomingRuns } from '../tasks/schedule.js';

/** How many upcoming runs /task info lists. */
export const UPCOMING_RUNS_SHOWN = 5;

const unix = (ms: number): number => Math.floor(ms / 1000);

/** `08:00 UTC`, or `08:00:30 UTC` for a run off the minute. */
function utcTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.endsWith(':00.000Z') ? iso.slice(11, 16) : iso.slice(11, 19)} UTC`;
}

/** `UTC+1`, `UTC-5`, `UTC+5:30`, `UTC`: the zone's offset at that instant. */
export function utcOffsetName(timeZone: string, ms: number): string {
  const name =
    new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'shortOffset' })
      .formatToParts(ms)
      .find((part) => part.type === 'timeZoneName')?.value ?? 'GMT';
  return name.replace(/^GMT(\+0)?$/, 'UTC').replace(/^GMT/, 'UTC');
}

/**
 * The "Next runs" lines of /task info: a running task's next runs (at most `shown`, and no more than its count
 * leaves), from its stored next run; otherwise one line saying nothing is scheduled and why.
 */
export function upcomingRunLines(
  task: Pick<Task, 'state' | 'nextRunAt' | 'schedule' | 'count' | 'currentLoop'>,
  shown = UPCOMING_RUNS_SHOWN,
): string[] {
  const left = task.count === null ? shown : Math.min(shown, task.count - task.currentLoop);
  if (task.state !== 'running' || task.nextRunAt === null || left < 1) {
    return [
      `Next runs: not scheduled (${task.state === 'running' ? 'no run is due' : `it is ${task.state}`}).`,
    ];
  }
  const runs = upcomingRuns(task.schedule, task.nextRunAt, left);
  if (runs.length === 0) return ['Next runs: none; its schedule has no run left.'];
  const { schedule } = task;
  const timeZone = 'timeZone' in schedule ? schedule.timeZone : undefined;
  const lines = runs.map((ms, index) => {
    const when = index === 0 ? `<t:${unix(ms)}:f> (<t:${unix(ms)}:R>)` : `<t:${unix(ms)}:f>`;
    if (timeZone === undefined) return `• ${when}`;
    const offset = utcOffsetName(timeZone, ms);
    const before = index === 0 ? offset : utcOffsetName(timeZone, runs[index - 1]!);
    const change = offset === before ? '' : ` (clocks change in ${timeZone}: ${before} → ${offset})`;
    return `• ${when} · ${utcTime(ms)}${change}`;
  });
  const title = runs.length === 1 ? 'Next run' : `Next ${runs.length} runs`;
  return [`${title}, in your time:`, ...lines];
}
