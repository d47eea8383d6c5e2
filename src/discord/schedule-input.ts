// Everything between what an admin types into `every` / `at` / `cron` / `timezone` and a stored schedule:
// the grammar of each option, the one-off dates (read by chrono-node in the task's zone), and the canonical
// text a schedule is written back as. Pure: no Discord, no database. Each parser returns a value or one
// sentence for the admin; the runtime's own gate (checkSchedule) has the last word.
import * as chrono from 'chrono-node';
import type { TaskSchedule } from '../db/index.js';
import { offsetMs, wallClock, wallTimeToInstant } from '../loop/index.js';
import { checkSchedule, MAX_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS, TaskError } from '../tasks/index.js';
import { durationSeconds, fail, formatEvery, ok, type Parsed, quote } from './input.js';
import { parseTimeZone } from './time-zones.js';

export interface ScheduleOptions {
  every?: string | null;
  at?: string | null;
  timezone?: string | null;
  cron?: string | null;
}

/** What a schedule is read against: the clock, the zone used when `timezone` is left out, the task's own. */
export interface ScheduleContext {
  nowMs: number;
  /** The server's default zone (UTC when the server has none). */
  defaultTimeZone?: string;
  /** The task's schedule today, for `/task interval`. */
  current?: TaskSchedule;
}

export type AtSchedule = Extract<TaskSchedule, { kind: 'times' | 'once' }>;

export const MISSING_SCHEDULE =
  'Give the task a schedule: `every` (like 15m), `at` (like 09:00) or `cron` (like 0 9 * * 1).';

/** Longest `at` / `cron` text: the slash options cap it, so any text fits an autocomplete choice's value. */
export const MAX_SCHEDULE_TEXT = 100;
/** A one-off further ahead than this is far more likely a typo (2062 for 2026) than a plan. */
const MAX_YEARS_AHEAD = 5;
const YEAR_MS = 365.25 * 24 * 3600 * 1000;

const AT_EXAMPLES = '09:00, mon,wed 9am, 2026-12-24 18:00, tomorrow 9am or in 2 hours';

const given = (value: string | null | undefined): value is string => value != null && value.trim() !== '';

/**
 * Exactly one of every / at / cron; a time zone only with at or cron (else the server's default). With
 * `current` (for `/task interval`), a time zone alone moves the task's own times, date or cron to that zone.
 */
export function scheduleFromOptions(
  options: ScheduleOptions,
  context: ScheduleContext,
): Parsed<TaskSchedule> {
  const { nowMs, current } = context;
  const kinds = (['every', 'at', 'cron'] as const).filter((key) => given(options[key]));
  if (kinds.length > 1) {
    return fail(
      `Give only one of \`every\`, \`at\` or \`cron\`, not ${kinds.map((k) => `\`${k}\``).join(' and ')}.`,
    );
  }
  let timeZone = context.defaultTimeZone ?? 'UTC';
  if (given(options.timezone)) {
    if (kinds[0] === 'every' || (kinds.length === 0 && current?.kind === 'interval')) {
      return fail(
        'A time zone only applies to `at` and `cron` schedules; `every` counts from when the task starts.',
      );
    }
    const zone = parseTimeZone(options.timezone, nowMs);
    if (!zone.ok) return zone;
    timeZone = zone.value;
  } else if (current && current.kind !== 'interval') {
    timeZone = current.timeZone;
  }
  if (kinds.length === 0) {
    if (current && current.kind !== 'interval' && given(options.timezone))
      return checked(inZone(current, timeZone), nowMs);
    return fail(MISSING_SCHEDULE);
  }
  switch (kinds[0]) {
    case 'every': {
      const seconds = parseEvery(options.every!);
      return seconds.ok ? checked({ kind: 'interval', seconds: seconds.value }, nowMs) : seconds;
    }
    case 'at': {
      const schedule = parseAt(options.at!, timeZone, nowMs);
      return schedule.ok ? checked(schedule.value, nowMs) : schedule;
    }
    default:
      return parseCron(options.cron!, timeZone, nowMs);
  }
}

/** A schedule moved to another zone: the same wall-clock times (or date and time) there. */
function inZone(schedule: Exclude<TaskSchedule, { kind: 'interval' }>, timeZone: string): TaskSchedule {
  if (schedule.kind !== 'once') return { ...schedule, timeZone };
  return {
    ...schedule,
    at: wallTimeToInstant(wallClock(schedule.at, schedule.timeZone), timeZone),
    timeZone,
  };
}

/** The runtime's gate, its refusal as the sentence. */
function checked(schedule: TaskSchedule, nowMs: number): Parsed<TaskSchedule> {
  try {
    return ok(checkSchedule(schedule, nowMs));
  } catch (error) {
    if (error instanceof TaskError) return fail(error.message);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------
// every

/** `90s`, `15m`, `1h30m`, `2d` → seconds. Units go largest first, each at most once. */
export function parseEvery(input: string): Parsed<number> {
  const seconds = durationSeconds(input);
  if (seconds === undefined) return fail(notADuration(input));
  if (seconds < MIN_INTERVAL_SECONDS) {
    return fail(
      `Tasks can run at most every ${MIN_INTERVAL_SECONDS} seconds; "${quote(input)}" is too short.`,
    );
  }
  if (seconds > MAX_INTERVAL_SECONDS) {
    return fail(`"${quote(input)}" is longer than a year; use \`at\` or \`cron\` for rare tasks.`);
  }
  return ok(seconds);
}

/** Why `every` refused a text, pointing at `at` when the text is a time of day or a date. */
function notADuration(input: string): string {
  const text = normalized(input);
  const shown = quote(input);
  if (text !== '' && tokens(text).every((token) => timeOfDay(token) !== undefined)) {
    return `"${shown}" is a time of day, not a duration: for a time of day, use at: instead of every:.`;
  }
  const read = text === '' ? undefined : readDate(text, new Date());
  if (/^in\s/.test(text) || (read?.leftover === '' && !read.results.some(isBareDuration))) {
    return `"${shown}" is not a duration: for a one-off time, use at: instead of every:.`;
  }
  return `"${shown}" is not a duration: write it like 90s, 15m, 1h30m or 2d.`;
}

// ---------------------------------------------------------------------------------------------------------
// at: daily times, weekdays with times, or one date and time

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const EVERY_DAY = [1, 2, 3, 4, 5, 6, 7];
// A Map, not an object: typed words such as "constructor" must not find Object.prototype's members.
const DAY_NAMES = new Map<string, number[]>([
  ['weekdays', [1, 2, 3, 4, 5]],
  ['weekday', [1, 2, 3, 4, 5]],
  ['weekends', [6, 7]],
  ['weekend', [6, 7]],
  ['day', EVERY_DAY],
  ['days', EVERY_DAY],
  ['daily', EVERY_DAY],
  ['everyday', EVERY_DAY],
  ['tues', [2]],
  ['weds', [3]],
  ['thur', [4]],
  ['thurs', [4]],
]);
for (const [index, full] of [
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
  'sunday',
].entries()) {
  const day = [index + 1];
  for (const name of [full, `${full}s`, full.slice(0, 3), `${full.slice(0, 3)}s`]) DAY_NAMES.set(name, day);
}
/** Words that may sit between days and times ("every monday at 9am", "5pm on fridays"). */
const FILLERS = new Set(['at', 'on', 'every', 'each']);

/** The text lower-cased, with `9 am` / `9 a.m.` joined into `9am` so it is one token. */
function normalized(input: string): string {
  return input
    .trim()
    .toLowerCase()
    .replace(/\b([ap])\.m\./g, '$1m')
    .replace(/(\d)\s+([ap]m)\b/g, '$1$2');
}

function tokens(text: string): string[] {
  return text
    .replace(/\band\b|[&,;]/g, ' ')
    .split(/\s+/)
    .filter((token) => token !== '');
}

const TIME_TOKEN = /^(\d{1,2})(?::(\d{2})(?::(\d{2}))?)?([ap]m)?$/;
/** Shaped like a time (`25:00`, `13pm`) even if out of range: worth a "not a time of day" refusal. */
const TIME_SHAPED = /^\d{1,2}(?::\d{1,2}){1,2}(?:[ap]m)?$|^\d{1,2}[ap]m$/;

/** `09:00`, `9:00:30`, `9am`, `6:30pm`, `noon`, `midnight` → `HH:MM[:SS]`; undefined if not a valid time. */
function timeOfDay(token: string): string | undefined {
  if (token === 'noon') return '12:00';
  if (token === 'midnight') return '00:00';
  const match = TIME_TOKEN.exec(token);
  // A bare number ("9") could be a time, a day or a count: ask for 09:00 or 9am.
  if (!match || (match[2] === undefined && match[4] === undefined)) return undefined;
  let hour = Number(match[1]);
  const minute = Number(match[2] ?? 0);
  const second = Number(match[3] ?? 0);
  const meridiem = match[4];
  if (meridiem !== undefined) {
    if (hour < 1 || hour > 12) return undefined;
    hour = (hour % 12) + (meridiem === 'pm' ? 12 : 0);
  }
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const pad = (n: number) => String(n).padStart(2, '0');
  return second ? `${pad(hour)}:${pad(minute)}:${pad(second)}` : `${pad(hour)}:${pad(minute)}`;
}

/** `mon`, `fridays`, `weekdays`, `mon-fri` → ISO weekdays; undefined if the token is not days. */
function weekdaysOf(token: string): number[] | undefined {
  const named = DAY_NAMES.get(token);
  if (named) return named;
  const range = /^([a-z]+)-([a-z]+)$/.exec(token);
  const from = range && DAY_NAMES.get(range[1]!);
  const to = range && DAY_NAMES.get(range[2]!);
  if (!from || !to || from.length !== 1 || to.length !== 1) return undefined;
  const days: number[] = [];
  // A range may wrap the week: fri-mon is Friday to Monday.
  for (let day = from[0]!; ; day = (day % 7) + 1) {
    days.push(day);
    if (day === to[0]) return days;
  }
}

/**
 * `at`, read in `timeZone` at `nowMs`:
 * - times of day (`09:00, 18:30`, `9am`): daily;
 * - weekdays with times (`mon,wed,fri 09:00`, `weekdays 18:30`, `sundays 10am`, `mon-fri 9am`): weekly;
 * - one date and time (`2026-12-24 18:00`, `tomorrow 9am`, `next monday 09:00`, `in 2 hours`): once.
 */
export function parseAt(input: string, timeZone: string, nowMs: number): Parsed<AtSchedule> {
  const text = normalized(input);
  if (text === '') return fail(`Give a time, like ${AT_EXAMPLES}.`);
  if (input.length > MAX_SCHEDULE_TEXT) {
    return fail(`That is too long for \`at\` (at most ${MAX_SCHEDULE_TEXT} characters).`);
  }
  const words = tokens(text);
  const times: string[] = [];
  const days = new Set<number>();
  let badTime: string | undefined;
  let other = false;
  for (const word of words) {
    const time = timeOfDay(word);
    const weekdays = time === undefined ? weekdaysOf(word) : undefined;
    if (time !== undefined) times.push(time);
    else if (weekdays) for (const day of weekdays) days.add(day);
    else if (FILLERS.has(word)) continue;
    else if (TIME_SHAPED.test(word)) badTime ??= word;
    else other = true;
  }
  if (!other) {
    if (badTime !== undefined) {
      return fail(
        `"${quote(badTime)}" is not a time of day: write it like 09:00 or 18:30 (24-hour), or 9am or 6:30pm.`,
      );
    }
    if (times.length > 0) {
      const sorted = [...new Set(times)].sort();
      const weekly = days.size > 0 && days.size < 7;
      return ok(
        weekly
          ? { kind: 'times', times: sorted, days: [...days].sort((a, b) => a - b), timeZone }
          : { kind: 'times', times: sorted, timeZone },
      );
    }
    if (days.size > 0) return fail(`Say at what time too, like "${quote(input, 30)} 09:00".`);
  }
  return parseOnce(input, text, timeZone, nowMs);
}

/** Day and month in digits, in an order that can't be told (12/01, 01/12/2026, 1.2.2026). */
const NUMERIC_DAY_MONTH =
  /(?<![\d/.-])\d{1,2}\/\d{1,2}(?:\/\d{2,4})?(?![\d/])|(?<![\d.-])\d{1,2}([.-])\d{1,2}\1\d{2,4}(?![\d.-])|(?<![\d.])\d{1,2}\.\d{1,2}(?![\d.]|\s*[ap]m)/;

/** One date and time, read by chrono-node in `timeZone`: the task runs once then. */
function parseOnce(input: string, text: string, timeZone: string, nowMs: number): Parsed<AtSchedule> {
  const ambiguous = NUMERIC_DAY_MONTH.exec(text);
  if (ambiguous) {
    return fail(
      `"${ambiguous[0]}" could be day/month or month/day: write the date like 2026-12-01 or 1 Dec.`,
    );
  }
  const reference = { instant: new Date(nowMs), timezone: offsetMs(nowMs, timeZone) / 60_000 };
  const { results, leftover } = readDate(text, reference);
  const result = results[0];
  if (result === undefined) {
    return fail(`I can't read "${quote(input)}" as a time: write it like ${AT_EXAMPLES}.`);
  }
  if (results.length > 1) {
    return fail(`Give one date and time per task (a one-off runs once), like 2026-12-24 18:00.`);
  }
  if (leftover !== '') {
    return fail(
      `I understood "${quote(result.text)}" but not "${quote(leftover, 30)}": write only the time, like ${AT_EXAMPLES}.`,
    );
  }
  if (isBareDuration(result)) {
    return fail(
      `"${quote(result.text)}" is a duration: for a repeating task use every:, for a one-off write "in ${quote(result.text, 20)}".`,
    );
  }
  if (result.tags().has('parser/SlashDateFormatParser')) {
    return fail(
      `"${quote(result.text)}" could be day/month or month/day: write the date like 2026-12-01 or 1 Dec.`,
    );
  }
  let atMs: number;
  if (result.tags().has('result/relativeDate')) {
    // "in 2 hours" is a span from now, whatever the wall clock does meanwhile.
    atMs = Math.ceil(result.date().getTime() / 1000) * 1000;
  } else if (result.start.isCertain('timezoneOffset')) {
    // An offset or abbreviation typed with the date ("18:00 EST", "01:30 -0500") says which instant.
    atMs = result.date().getTime();
  } else if (/[+-]\d{1,2}:\d{2}$/.test(result.text)) {
    // chrono reads past "-05:00" without applying it: refuse rather than read it in the task's zone.
    return fail(`Write the UTC offset without a colon (like -0500), or leave it out and use \`timezone\`.`);
  } else {
    const start = result.start;
    if (!start.isCertain('hour')) {
      return fail(`Say what time on that day too, like "${quote(result.text, 30)} 18:00".`);
    }
    // chrono read the wall clock at today's offset; the zone's offset on that date may differ (DST).
    const field = (name: 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second') => start.get(name) ?? 0;
    const wall = {
      year: field('year'),
      month: field('month'),
      day: field('day'),
      hour: field('hour'),
      minute: field('minute'),
      second: field('second'),
    };
    atMs = wallTimeToInstant(wall, timeZone);
  }
  if (atMs <= nowMs) {
    return fail(
      `"${quote(input)}" is in the past (${dateText(atMs, timeZone)}): give a future date and time.`,
    );
  }
  if (atMs - nowMs > MAX_YEARS_AHEAD * YEAR_MS) {
    return fail(`"${quote(input)}" is more than ${MAX_YEARS_AHEAD} years away; give a nearer date.`);
  }
  return ok({ kind: 'once', at: atMs, timeZone });
}

/** chrono-node's reading of `text`, and what it left unread (punctuation aside): "" when it read it all. */
function readDate(text: string, reference: chrono.ParsingReference | Date) {
  const results = chrono.casual.parse(text, reference, { forwardDate: true });
  let leftover = text;
  // Blank out from the end so earlier indexes stay valid.
  for (const result of [...results].reverse()) {
    leftover = `${leftover.slice(0, result.index)} ${leftover.slice(result.index + result.text.length)}`;
  }
  return { results, leftover: leftover.replace(/[\s,.;:!?]+/g, ' ').trim() };
}

/**
 * chrono-node builds its patterns on first use, hundreds of ms: `npm start` and the sandbox pay that while
 * the bot starts (see main.ts), not on an admin's first keystroke in autocomplete.
 */
export function prepareScheduleText(): void {
  for (const sample of [
    'tomorrow 9am',
    '24 Dec 18:00',
    '2026-12-24 18:00',
    'next monday 09:00',
    'in 2 hours',
    '?',
  ])
    readDate(sample, new Date(0));
}

/** chrono reads "15m" or "1.5h" alone as that long from now; only "in 15m" (or "15m from now") says so. */
function isBareDuration(result: chrono.ParsedResult): boolean {
  return result.tags().has('result/relativeDate') && !/^in\s|\sfrom now$|\sago$/.test(result.text);
}

/**
 * `2026-12-24 18:00` (seconds only when not zero): a one-off's wall-clock time in its zone. The second pass
 * of a time an autumn change repeats gets its offset (`01:30 -0500`), since the bare time means the first.
 */
function dateText(atMs: number, timeZone: string): string {
  const w = wallClock(atMs, timeZone);
  const pad = (n: number) => String(n).padStart(2, '0');
  const seconds = w.second ? `:${pad(w.second)}` : '';
  const text = `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}${seconds}`;
  if (wallTimeToInstant(w, timeZone) === atMs) return text;
  const minutes = offsetMs(atMs, timeZone) / 60_000;
  const sign = minutes < 0 ? '-' : '+';
  return `${text} ${sign}${pad(Math.floor(Math.abs(minutes) / 60))}${pad(Math.abs(minutes) % 60)}`;
}

// ---------------------------------------------------------------------------------------------------------
// cron

function parseCron(input: string, timeZone: string, nowMs: number): Parsed<TaskSchedule> {
  if (input.length > MAX_SCHEDULE_TEXT) {
    return fail(`That is too long for \`cron\` (at most ${MAX_SCHEDULE_TEXT} characters).`);
  }
  return checked({ kind: 'cron', cron: input.trim().replace(/\s+/g, ' '), timeZone }, nowMs);
}

// ---------------------------------------------------------------------------------------------------------
// A schedule written back as text

export type ScheduleOptionName = 'every' | 'at' | 'cron';

/** The text that, typed into `option` (with the schedule's zone), gives this schedule back. */
export function scheduleText(schedule: TaskSchedule): { option: ScheduleOptionName; text: string } {
  switch (schedule.kind) {
    case 'interval':
      return { option: 'every', text: formatEvery(schedule.seconds) };
    case 'times': {
      const times = schedule.times.join(', ');
      return { option: 'at', text: schedule.days ? `${daysText(schedule.days)} ${times}` : times };
    }
    case 'once':
      return { option: 'at', text: dateText(schedule.at, schedule.timeZone) };
    case 'cron':
      return { option: 'cron', text: schedule.cron };
  }
}

/** `weekdays`, `weekends`, or `mon,wed,fri`. */
export function daysText(days: readonly number[]): string {
  const key = days.join(',');
  if (key === '1,2,3,4,5') return 'weekdays';
  if (key === '6,7') return 'weekends';
  return days.map((day) => WEEKDAYS[day - 1]).join(',');
}
