// The live preview shown in autocomplete while an admin types `at`, `every` or `cron`: what the bot
// understood, in the zone that applies, and when it next runs. Picking a choice puts the schedule's
// canonical text in the option, which reads back as the same schedule.
import type { TaskSchedule } from '../db/index.js';
import { upcomingRuns } from '../tasks/index.js';
import { dateLabel } from './format.js';
import { quote } from './input.js';
import {
  daysText,
  type ScheduleContext,
  type ScheduleOptionName,
  scheduleFromOptions,
  scheduleText,
} from './schedule-input.js';

export interface PreviewChoice {
  name: string;
  value: string;
}

export interface PreviewContext extends ScheduleContext {
  /** The `timezone` option when it is filled in and valid. */
  timezone?: string | null;
}

/** Discord's limits on an autocomplete choice's name and value. */
const MAX_CHOICE_LENGTH = 100;

const EXAMPLES: Record<ScheduleOptionName, readonly string[]> = {
  at: ['09:00', '09:00, 18:30', 'weekdays 18:30', 'mon,wed,fri 9am', 'tomorrow 9am', 'in 2 hours'],
  every: ['15m', '1h', '6h', '1d'],
  cron: ['0 9 * * 1', '0 9 * * 1-5', '0 */6 * * *', '0 0 1 * *'],
};

/** The choices for what is typed so far into `option`: a preview, or one choice saying why it can't be read. */
export function schedulePreviewChoices(
  option: ScheduleOptionName,
  typed: string,
  context: PreviewContext,
): PreviewChoice[] {
  if (typed.trim() === '') return exampleChoices(option, context);
  const parsed = parse(option, typed, context);
  if (!parsed.ok) {
    const reason = parsed.error.replace(/`/g, '');
    return [{ name: fitChoice(`⚠ ${reason}`), value: typed.slice(0, MAX_CHOICE_LENGTH) }];
  }
  const choices = [choiceFor(parsed.value, context.nowMs, typed)];
  // A bare time or weekday repeats; offer its next occurrence as a one-off too, in case that was meant.
  if (parsed.value.kind === 'times') {
    const [nextMs] = upcomingRuns(parsed.value, context.nowMs, 1);
    if (nextMs !== undefined) {
      const once: TaskSchedule = { kind: 'once', at: nextMs, timeZone: parsed.value.timeZone };
      choices.push(choiceFor(once, context.nowMs, typed, 'or'));
    }
  }
  return choices;
}

function parse(option: ScheduleOptionName, typed: string, context: PreviewContext) {
  // `every` takes no zone: a zone filled in for `at` must not turn every's preview into a refusal.
  const timezone = option === 'every' ? null : context.timezone;
  return scheduleFromOptions({ [option]: typed, timezone }, context);
}

function exampleChoices(option: ScheduleOptionName, context: PreviewContext): PreviewChoice[] {
  const choices: PreviewChoice[] = [];
  const { current } = context;
  if (current && scheduleText(current).option === option) {
    choices.push(choiceFor(current, context.nowMs, undefined, 'now:'));
  }
  for (const example of EXAMPLES[option]) {
    const parsed = parse(option, example, context);
    if (parsed.ok) choices.push(choiceFor(parsed.value, context.nowMs));
  }
  return choices;
}

/** The choice for a schedule: its preview as the name, its canonical text as the value. */
function choiceFor(schedule: TaskSchedule, nowMs: number, typed?: string, label?: string): PreviewChoice {
  const text = scheduleText(schedule).text;
  // Canonical text fits unless it lists many times; what was typed (capped by the option) always does.
  const value = text.length <= MAX_CHOICE_LENGTH || typed === undefined ? text : typed;
  const name = describeForPreview(schedule, nowMs);
  return { name: fitChoice(label ? `${label} ${name}` : name), value: value.slice(0, MAX_CHOICE_LENGTH) };
}

/**
 * `once · Thu 24 Dec 2026 18:00 CET · in 23 days`, `daily 09:00 Europe/Paris · next Wed 2 Dec 09:00
 * (in 21 h)`, `every 15m · first run at creation, then every 15 minutes`, `cron 0 9 * * 1 UTC · next …`.
 */
function describeForPreview(schedule: TaskSchedule, nowMs: number): string {
  switch (schedule.kind) {
    case 'interval':
      return `every ${scheduleText(schedule).text} · first run at creation, then every ${durationWords(schedule.seconds)}`;
    case 'once':
      return `once · ${dateLabel(schedule.at, schedule.timeZone, true)} ${zoneLabel(schedule.at, schedule.timeZone)} · ${inWords(schedule.at - nowMs)}`;
    case 'times': {
      const times = timesLabel(schedule.times);
      const head = schedule.days
        ? `weekly ${daysLabel(schedule.days)} ${times} ${schedule.timeZone}`
        : `daily ${times} ${schedule.timeZone}`;
      return `${head} · ${nextLabel(schedule, nowMs)}`;
    }
    case 'cron':
      return `cron ${quote(schedule.cron, 40)} ${schedule.timeZone} · ${nextLabel(schedule, nowMs)}`;
  }
}

function nextLabel(schedule: TaskSchedule & { timeZone: string }, nowMs: number): string {
  const [nextMs] = upcomingRuns(schedule, nowMs, 1);
  if (nextMs === undefined) return 'never runs';
  const sameYear = new Date(nextMs).getUTCFullYear() === new Date(nowMs).getUTCFullYear();
  return `next ${dateLabel(nextMs, schedule.timeZone, !sameYear)} (${inWords(nextMs - nowMs)})`;
}

function timesLabel(times: readonly string[]): string {
  return times.length <= 4 ? times.join(', ') : `${times.slice(0, 3).join(', ')} +${times.length - 3} more`;
}

function daysLabel(days: readonly number[]): string {
  const text = daysText(days);
  if (text === 'weekdays' || text === 'weekends') return `on ${text}`;
  return text
    .split(',')
    .map((day) => day[0]!.toUpperCase() + day.slice(1))
    .join(', ');
}

const zoneFormats = new Map<string, Intl.DateTimeFormat[]>();

/** `CET`, `EST`, `UTC`: the zone's abbreviation then, or its IANA name when it has only `GMT+1`. */
function zoneLabel(instantMs: number, timeZone: string): string {
  let formats = zoneFormats.get(timeZone);
  if (formats === undefined) {
    // en-US knows the American abbreviations, en-GB the European ones.
    formats = ['en-US', 'en-GB'].map(
      (locale) => new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: 'short' }),
    );
    zoneFormats.set(timeZone, formats);
  }
  for (const format of formats) {
    const name = format.formatToParts(instantMs).find((part) => part.type === 'timeZoneName')?.value;
    if (name && /^[A-Z]{2,5}$/.test(name)) return name;
  }
  return timeZone;
}

/** `in 45 min`, `in 21 h`, `in 23 days`, or `passed`. */
function inWords(deltaMs: number): string {
  // A task's current one-off (shown first by /task interval) may already be behind us.
  if (deltaMs < 0) return 'passed';
  const minutes = Math.round(deltaMs / 60_000);
  if (minutes < 1) return 'in under a minute';
  if (minutes < 120) return `in ${minutes} min`;
  const hours = Math.round(deltaMs / 3_600_000);
  if (hours < 48) return `in ${hours} h`;
  return `in ${Math.round(deltaMs / 86_400_000)} days`;
}

/** `15 minutes`, `1 hour 30 minutes`, `2 days`. */
function durationWords(totalSeconds: number): string {
  const units: [number, string][] = [
    [86_400, 'day'],
    [3_600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  let rest = totalSeconds;
  const words: string[] = [];
  for (const [size, unit] of units) {
    const amount = Math.floor(rest / size);
    if (amount > 0) words.push(`${amount} ${unit}${amount === 1 ? '' : 's'}`);
    rest -= amount * size;
  }
  return words.join(' ');
}

function fitChoice(name: string): string {
  return name.length <= MAX_CHOICE_LENGTH ? name : `${name.slice(0, MAX_CHOICE_LENGTH - 1)}…`;
}
