// Schedules as plain data, and pure functions from (schedule, now) to the next due instant. Nothing here
// arms a timer, and only validation reads the clock (to ask croner whether a cron ever runs), so every
// rule below is tested with plain numbers.
import { Cron } from 'croner';

export interface TimeOfDay {
  hour: number;
  minute: number;
  second: number;
}

/** The options that choose when a loop runs (shared by `loop()` and `changeInterval()`). */
export interface ScheduleOptions {
  seconds?: number;
  minutes?: number;
  hours?: number;
  /** One or many times of day: `'HH:MM'`, `'HH:MM:SS'` or `{ hour, minute?, second? }`. */
  time?: TimeOfDayInput | readonly TimeOfDayInput[];
  /** 5- or 6-field cron expression (seconds first when 6), evaluated by croner. */
  cron?: string;
  /** IANA zone for `time` and `cron`; default UTC. */
  timeZone?: string;
}

export type TimeOfDayInput = string | { hour: number; minute?: number; second?: number };

/** A validated, normalized schedule; what `Loop.schedule` reads back. */
export type Schedule =
  | { readonly kind: 'relative'; readonly intervalMs: number }
  | { readonly kind: 'time'; readonly times: readonly TimeOfDay[]; readonly timeZone: string }
  | { readonly kind: 'cron'; readonly cron: string; readonly timeZone: string };

const SCHEDULE_KEYS = new Set(['seconds', 'minutes', 'hours', 'time', 'cron', 'timeZone']);
const TIME_PATTERN = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;

export function isScheduleKey(key: string): boolean {
  return SCHEDULE_KEYS.has(key);
}

// ---------------------------------------------------------------------------------------------------------
// Validation

/**
 * Validates schedule options; throws a TypeError/RangeError naming the offending option. Equal schedules
 * come back as one shared frozen object: 100,000 loops on the same few schedules then hold no copy each.
 */
export function normalizeSchedule(options: ScheduleOptions): Schedule {
  return shared(validateSchedule(options));
}

function validateSchedule(options: ScheduleOptions): Schedule {
  const { seconds, minutes, hours, time, cron, timeZone } = options;
  const relative = seconds !== undefined || minutes !== undefined || hours !== undefined;
  if (relative && time !== undefined)
    throw new TypeError('loop options "time" and "seconds/minutes/hours" cannot be combined');
  if (relative && cron !== undefined)
    throw new TypeError('loop options "cron" and "seconds/minutes/hours" cannot be combined');
  if (time !== undefined && cron !== undefined)
    throw new TypeError('loop options "time" and "cron" cannot be combined');

  if (time !== undefined)
    return { kind: 'time', times: normalizeTimes(time), timeZone: normalizeTimeZone(timeZone) };
  if (cron !== undefined) {
    const zone = normalizeTimeZone(timeZone);
    cronFor(cron, zone);
    return { kind: 'cron', cron, timeZone: zone };
  }
  if (timeZone !== undefined)
    throw new TypeError('loop option "timeZone" only applies to "time" or "cron" schedules');
  return { kind: 'relative', intervalMs: durationMs({ seconds, minutes, hours }) };
}

/** A duration given as seconds, minutes and hours, in milliseconds. */
export interface DurationUnits {
  seconds?: number;
  minutes?: number;
  hours?: number;
}

const UNIT_MS = { seconds: 1_000, minutes: 60_000, hours: 3_600_000 } as const;

export function isDurationUnit(key: string): key is keyof DurationUnits {
  return Object.hasOwn(UNIT_MS, key);
}

/**
 * `units` summed, in milliseconds: the interval of a relative schedule, or the loop option `option` (such as
 * retryWindow). Throws naming the option and unit if a value is not a finite number >= 0.
 */
export function durationMs(units: DurationUnits, option?: string): number {
  const name = (unit: string) => (option === undefined ? unit : `${option}.${unit}`);
  const totalMs =
    nonNegative(name('seconds'), units.seconds) * UNIT_MS.seconds +
    nonNegative(name('minutes'), units.minutes) * UNIT_MS.minutes +
    nonNegative(name('hours'), units.hours) * UNIT_MS.hours;
  if (!Number.isFinite(totalMs)) {
    const total = option === undefined ? 'loop interval' : `loop option "${option}"`;
    throw new RangeError(`${total} (seconds + minutes + hours) is too large`);
  }
  return totalMs;
}

const sharedSchedules = new Map<string, Schedule>();
const SHARED_SCHEDULE_LIMIT = 1_024;

function shared(schedule: Schedule): Schedule {
  const key =
    schedule.kind === 'relative'
      ? `r ${schedule.intervalMs}`
      : schedule.kind === 'cron'
        ? `c ${schedule.timeZone} ${schedule.cron}`
        : `t ${schedule.timeZone} ${schedule.times.map((t) => `${t.hour}:${t.minute}:${t.second}`).join(' ')}`;
  const known = sharedSchedules.get(key);
  if (known !== undefined) return known;
  if (sharedSchedules.size >= SHARED_SCHEDULE_LIMIT)
    sharedSchedules.delete(sharedSchedules.keys().next().value!);
  if (schedule.kind === 'time') {
    for (const time of schedule.times) Object.freeze(time);
    Object.freeze(schedule.times);
  }
  sharedSchedules.set(key, Object.freeze(schedule));
  return schedule;
}

function nonNegative(option: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number')
    throw new TypeError(`loop option "${option}" must be a number, got ${typeof value}`);
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`loop option "${option}" must be a finite number >= 0, got ${value}`);
  }
  return value;
}

function normalizeTimes(input: TimeOfDayInput | readonly TimeOfDayInput[]): TimeOfDay[] {
  const list = Array.isArray(input) ? input : [input as TimeOfDayInput];
  if (list.length === 0) throw new RangeError('loop option "time" must list at least one time of day');
  const bySecondOfDay = new Map<number, TimeOfDay>();
  for (const item of list) {
    const parsed = parseTimeOfDay(item);
    bySecondOfDay.set(parsed.hour * 3600 + parsed.minute * 60 + parsed.second, parsed);
  }
  return [...bySecondOfDay.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t);
}

function parseTimeOfDay(item: TimeOfDayInput): TimeOfDay {
  let hour: unknown;
  let minute: unknown;
  let second: unknown;
  if (typeof item === 'string') {
    const match = TIME_PATTERN.exec(item.trim());
    if (!match) throw new RangeError(`loop option "time" has "${item}", expected HH:MM or HH:MM:SS`);
    [hour, minute, second] = [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
  } else if (typeof item === 'object' && item !== null) {
    ({ hour, minute = 0, second = 0 } = item);
  } else {
    throw new TypeError(
      `loop option "time" has ${String(item)}, expected "HH:MM[:SS]" or { hour, minute, second }`,
    );
  }
  const inRange = (v: unknown, max: number) =>
    Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max;
  if (!inRange(hour, 23) || !inRange(minute, 59) || !inRange(second, 59)) {
    throw new RangeError(`loop option "time" has ${JSON.stringify(item)}: hour 0-23, minute and second 0-59`);
  }
  return { hour: hour as number, minute: minute as number, second: second as number };
}

function normalizeTimeZone(timeZone: unknown): string {
  if (timeZone === undefined) return 'UTC';
  if (typeof timeZone !== 'string')
    throw new TypeError('loop option "timeZone" must be an IANA time zone name');
  let canonical = canonicalZones.get(timeZone);
  if (canonical === undefined) {
    try {
      canonical = formatterFor(timeZone).resolvedOptions().timeZone;
    } catch {
      throw new RangeError(`loop option "timeZone" is not a known IANA time zone: "${timeZone}"`);
    }
    canonicalZones.set(timeZone, canonical);
  }
  return canonical;
}

// Zone name as given → canonical name. resolvedOptions() costs microseconds and a restart normalizes every
// task's schedule (each task's loop() does); one entry per valid zone name in use, as for formatters.
const canonicalZones = new Map<string, string>();

// ---------------------------------------------------------------------------------------------------------
// Next due instant

/** When a run started at `nowMs` first fires: now for relative schedules, else the first slot at or after now. */
export function firstDueAt(schedule: Schedule, nowMs: number): number {
  return schedule.kind === 'relative' ? nowMs : slotAtOrAfter(schedule, nowMs);
}

export interface NextDueInput {
  /** Origin of the relative grid: slots are anchorMs + k × intervalMs. */
  anchorMs: number;
  /** The slot the last iteration was due at (or -Infinity before the first). */
  lastDueMs: number;
  nowMs: number;
}

/**
 * The next slot strictly after `lastDueMs` and not before `nowMs`. Slots missed while an iteration overran
 * are skipped; discord.py instead fires each missed relative slot immediately, one after another (a
 * catch-up burst), which hammers Discord with work that is already late.
 */
export function nextDueAfter(schedule: Schedule, { anchorMs, lastDueMs, nowMs }: NextDueInput): number {
  if (schedule.kind !== 'relative') {
    return slotAtOrAfter(schedule, Math.max(nowMs, Math.floor(lastDueMs) + 1));
  }
  const intervalMs = schedule.intervalMs;
  // Back-to-back: as soon as possible, but never the same millisecond twice (a timer always yields).
  if (intervalMs === 0) return Math.max(nowMs, lastDueMs + 1);
  // Slot indices come from the anchor by multiplication, so 10,000 iterations accumulate no rounding drift.
  const afterLast =
    lastDueMs === Number.NEGATIVE_INFINITY ? 0 : Math.round((lastDueMs - anchorMs) / intervalMs) + 1;
  const notBeforeNow = Math.ceil((nowMs - anchorMs) / intervalMs - 1e-9);
  return anchorMs + Math.max(afterLast, notBeforeNow, 0) * intervalMs;
}

/** The first slot of a `time` or `cron` schedule at or after `atOrAfterMs`. */
export function slotAtOrAfter(
  schedule: Exclude<Schedule, { kind: 'relative' }>,
  atOrAfterMs: number,
): number {
  if (schedule.kind === 'cron') {
    // croner returns the next whole second strictly after its argument.
    const next = cronFor(schedule.cron, schedule.timeZone).nextRun(new Date(atOrAfterMs - 1));
    if (next === null) throw new RangeError(`loop option "cron" "${schedule.cron}" has no future occurrence`);
    return next.getTime();
  }
  const { timeZone, times } = schedule;
  const today = wallClock(atOrAfterMs, timeZone);
  // Three days cover any DST shift; wall times resolve to instants in order, so the first match is the earliest.
  for (let dayOffset = 0; dayOffset <= 2; dayOffset++) {
    const day = new Date(Date.UTC(today.year, today.month - 1, today.day + dayOffset));
    for (const t of times) {
      const instant = wallTimeToInstant(
        { year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate(), ...t },
        timeZone,
      );
      if (instant >= atOrAfterMs) return instant;
    }
  }
  throw new Error(`no time of day found after ${new Date(atOrAfterMs).toISOString()} in ${timeZone}`);
}

// ---------------------------------------------------------------------------------------------------------
// Time-zone arithmetic (Intl offsets, one cached formatter per zone)

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const crons = new Map<string, Cron>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** A croner Cron holds ~80 KB of precomputed state, so keep only the most recently used expressions. */
const CRON_CACHE_LIMIT = 256;

function cronFor(expression: string, timeZone: string): Cron {
  const key = `${timeZone} ${expression}`;
  let cron = crons.get(key);
  if (cron !== undefined) {
    crons.delete(key); // re-inserted below, so Map order is least recently used first
  } else {
    if (typeof expression !== 'string') throw new TypeError('loop option "cron" must be a string');
    // croner also takes a 7th (year) field and nicknames such as @daily; we promise 5 or 6 fields only.
    const fields = expression.trim().split(/\s+/).length;
    if (fields !== 5 && fields !== 6) {
      throw new RangeError(
        `loop option "cron" must have 5 fields (minute hour day month weekday) or 6 (seconds first), ` +
          `got ${fields}: "${expression}"`,
      );
    }
    try {
      cron = new Cron(expression, { timezone: timeZone, paused: true });
    } catch (error) {
      throw new RangeError(
        `loop option "cron" is not a valid cron expression: "${expression}" (${(error as Error).message})`,
      );
    }
    // Without a year field an expression either runs again and again or never (February 30th), so asking
    // once, from now, settles it for good; a cached expression is never asked again.
    if (cron.nextRun() === null) {
      throw new RangeError(`loop option "cron" "${expression}" never runs: no date matches it`);
    }
    if (crons.size >= CRON_CACHE_LIMIT) crons.delete(crons.keys().next().value!);
  }
  crons.set(key, cron);
  return cron;
}

/** The wall-clock fields of `instantMs` in `timeZone`. */
export function wallClock(instantMs: number, timeZone: string): WallTime {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(instantMs)) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  return {
    year: fields.year!,
    month: fields.month!,
    day: fields.day!,
    hour: fields.hour!,
    minute: fields.minute!,
    second: fields.second!,
  };
}

/** UTC offset of `timeZone` at `instantMs`, in ms (local = UTC + offset). */
export function offsetMs(instantMs: number, timeZone: string): number {
  const w = wallClock(instantMs, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - (instantMs - (((instantMs % 1000) + 1000) % 1000));
}

/**
 * The instant a wall-clock time happens in `timeZone`. A time repeated by a fall-back overlap resolves to
 * its first occurrence; a time skipped by a spring-forward gap resolves to the first instant after the gap
 * (02:30 on a New York spring-forward day is 03:00 EDT).
 */
export function wallTimeToInstant(wall: WallTime, timeZone: string): number {
  const wallAsUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  const DAY_MS = 86_400_000;
  const offsetBefore = offsetMs(wallAsUtc - DAY_MS, timeZone);
  const offsetAfter = offsetMs(wallAsUtc + DAY_MS, timeZone);
  // The earlier candidate first: in an overlap both are valid and the first occurrence wins.
  const candidates = [
    wallAsUtc - Math.max(offsetBefore, offsetAfter),
    wallAsUtc - Math.min(offsetBefore, offsetAfter),
  ];
  for (const instant of candidates) {
    if (instant + offsetMs(instant, timeZone) === wallAsUtc) return instant;
  }
  // In the gap: find the transition between the two candidates (offsets change on whole seconds).
  let lo = Math.min(...candidates); // still on the old offset
  let hi = Math.max(...candidates); // already on the new offset
  const offsetLo = offsetMs(lo, timeZone);
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetMs(mid, timeZone) === offsetLo) lo = mid;
    else hi = mid;
  }
  return hi;
}
