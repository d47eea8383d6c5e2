// Schedules as plain data, and pure functions from (schedule, now) to the next due instant. Nothing here
// arms a timer, and only validation reads the clock (to ask croner whether a cron ever runs), so every
// rule below is tested with plain numbers. Time-zone arithmetic is in zone.ts, croner's matcher in cron.ts,
// and the slots loops on one schedule share in slot-memo.ts.
import { cronFor, cronWalls } from './cron.js';
import { memoizedSlot } from './slot-memo.js';
import { DAY_MS, formatterFor, instantOfWall, lastGapShiftMs, offsetMs } from './zone.js';

export { offsetMs, type WallTime, wallClock, wallTimeToInstant } from './zone.js';

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
  /** With `time`: only on these ISO weekdays (1 = Monday … 7 = Sunday), in `timeZone`; default every day. */
  days?: readonly number[];
  /** One instant: the loop runs once, then completes. */
  at?: Date | number;
  /** 5- or 6-field cron expression (seconds first when 6), evaluated by croner. */
  cron?: string;
  /** IANA zone for `time` and `cron`; default UTC. */
  timeZone?: string;
}

export type TimeOfDayInput = string | { hour: number; minute?: number; second?: number };

/** A validated, normalized schedule; what `Loop.schedule` reads back. */
export type Schedule =
  | { readonly kind: 'relative'; readonly intervalMs: number }
  | {
      readonly kind: 'time';
      readonly times: readonly TimeOfDay[];
      /** ISO weekdays (1 = Monday … 7 = Sunday), sorted; undefined = every day. */
      readonly days?: readonly number[];
      readonly timeZone: string;
    }
  | { readonly kind: 'cron'; readonly cron: string; readonly timeZone: string }
  | { readonly kind: 'once'; readonly atMs: number };

/** The schedules whose slots are wall-clock times in a zone (times of day, cron). */
export type WallSchedule = Extract<Schedule, { kind: 'time' | 'cron' }>;

const SCHEDULE_KEYS = new Set(['seconds', 'minutes', 'hours', 'time', 'days', 'at', 'cron', 'timeZone']);
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
  const { seconds, minutes, hours, time, days, at, cron, timeZone } = options;
  const relative = seconds !== undefined || minutes !== undefined || hours !== undefined;
  if (at !== undefined) {
    if (relative || time !== undefined || cron !== undefined || days !== undefined)
      throw new TypeError('loop option "at" cannot be combined with other schedule options');
    if (timeZone !== undefined) normalizeTimeZone(timeZone); // accepted (a zone it was typed in), but an instant needs none
    return { kind: 'once', atMs: instantMs(at) };
  }
  if (days !== undefined && time === undefined)
    throw new TypeError('loop option "days" only applies to "time" schedules');
  if (relative && time !== undefined)
    throw new TypeError('loop options "time" and "seconds/minutes/hours" cannot be combined');
  if (relative && cron !== undefined)
    throw new TypeError('loop options "cron" and "seconds/minutes/hours" cannot be combined');
  if (time !== undefined && cron !== undefined)
    throw new TypeError('loop options "time" and "cron" cannot be combined');

  if (time !== undefined) {
    const times = normalizeTimes(time);
    const zone = normalizeTimeZone(timeZone);
    const weekdays = days === undefined ? undefined : normalizeDays(days);
    return weekdays === undefined
      ? { kind: 'time', times, timeZone: zone }
      : { kind: 'time', times, days: weekdays, timeZone: zone };
  }
  if (cron !== undefined) {
    const zone = normalizeTimeZone(timeZone);
    cronFor(cron);
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

/** ISO weekdays, validated, de-duplicated and sorted; all seven mean every day. */
function normalizeDays(days: unknown): number[] | undefined {
  if (!Array.isArray(days)) throw new TypeError('loop option "days" must be an array of ISO weekdays (1-7)');
  if (days.length === 0) throw new RangeError('loop option "days" must list at least one weekday');
  for (const day of days) {
    if (!Number.isInteger(day) || day < 1 || day > 7)
      throw new RangeError(`loop option "days" has ${String(day)}: weekdays are 1 (Monday) to 7 (Sunday)`);
  }
  const sorted = [...new Set(days as number[])].sort((a, b) => a - b);
  return sorted.length === 7 ? undefined : sorted;
}

function instantMs(at: unknown): number {
  const ms = at instanceof Date ? at.getTime() : at;
  if (typeof ms !== 'number' || !Number.isFinite(ms))
    throw new RangeError('loop option "at" must be a valid Date or epoch milliseconds');
  return ms;
}

const sharedSchedules = new Map<string, Schedule>();
const SHARED_SCHEDULE_LIMIT = 1_024;

function shared(schedule: Schedule): Schedule {
  const key =
    schedule.kind === 'relative'
      ? `r ${schedule.intervalMs}`
      : schedule.kind === 'once'
        ? `o ${schedule.atMs}`
        : schedule.kind === 'cron'
          ? `c ${schedule.timeZone} ${schedule.cron}`
          : `t ${schedule.timeZone} ${schedule.days?.join(',') ?? '*'} ${schedule.times.map((t) => `${t.hour}:${t.minute}:${t.second}`).join(' ')}`;
  const known = sharedSchedules.get(key);
  if (known !== undefined) {
    // Most recently used last, so schedules in use stay shared while one-off instants churn through.
    sharedSchedules.delete(key);
    sharedSchedules.set(key, known);
    return known;
  }
  if (sharedSchedules.size >= SHARED_SCHEDULE_LIMIT)
    sharedSchedules.delete(sharedSchedules.keys().next().value!);
  if (schedule.kind === 'time') {
    for (const time of schedule.times) Object.freeze(time);
    Object.freeze(schedule.times);
    if (schedule.days) Object.freeze(schedule.days);
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

/**
 * When a run started at `nowMs` first fires: now for relative schedules, the instant itself for a one-off
 * (already past: at once), else the first slot at or after now.
 */
export function firstDueAt(schedule: Schedule, nowMs: number): number {
  if (schedule.kind === 'relative') return nowMs;
  if (schedule.kind === 'once') return schedule.atMs;
  return sharedSlotAtOrAfter(schedule, nowMs);
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
/**
 * How far an interval's slot grid moves when the wall clock was stepped by `jumpMs`: rounded down, so a moved
 * slot is never after Date.now() (never early, even after a backward jump); and moved back by whole intervals,
 * the grid would repeat slots it has run, and a nonce made from the slot with them (Discord would drop the
 * post), so a millisecond earlier keeps every slot new. The loop and the runtime's parked tasks both use it.
 */
export function wallJumpShiftMs(jumpMs: number, intervalMs: number): number {
  const shiftMs = Math.floor(jumpMs);
  return shiftMs < 0 && shiftMs % intervalMs === 0 ? shiftMs - 1 : shiftMs;
}

export function nextDueAfter(schedule: Schedule, { anchorMs, lastDueMs, nowMs }: NextDueInput): number {
  // A one-off has one slot: Infinity once it ran or was missed, which ends the loop as completed.
  if (schedule.kind === 'once')
    return schedule.atMs > lastDueMs && schedule.atMs >= nowMs ? schedule.atMs : Number.POSITIVE_INFINITY;
  if (schedule.kind !== 'relative') {
    return sharedSlotAtOrAfter(schedule, Math.max(nowMs, Math.floor(lastDueMs) + 1));
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

/** slotAtOrAfter, remembered for every loop on the same schedule (see slot-memo.ts). */
function sharedSlotAtOrAfter(schedule: WallSchedule, atOrAfterMs: number): number {
  return memoizedSlot(schedule, atOrAfterMs, slotAtOrAfter);
}

/**
 * The first slot of a `time` or `cron` schedule at or after `atOrAfterMs`. Both are wall-clock times: the
 * listed times, or the wall times croner matches (evaluated on a clock without DST, so it only matches), each
 * resolved to an instant by wallTimeToInstant. That keeps one DST rule for both kinds; croner's own would run
 * a gap time at the end of the gap and a repeated time twice. Computed afresh on every call; the engine
 * asks through sharedSlotAtOrAfter.
 */
export function slotAtOrAfter(schedule: WallSchedule, atOrAfterMs: number): number {
  const { timeZone } = schedule;
  // A wall time earlier than now's still resolves at or after now if a DST gap shifted it there: the search
  // starts the gap's length back, but only while a gap that ended less than its own length ago is behind us.
  const nowOffsetMs = offsetMs(atOrAfterMs, timeZone);
  const dayAgoOffsetMs = offsetMs(atOrAfterMs - DAY_MS, timeZone);
  let lookbackMs = nowOffsetMs - dayAgoOffsetMs;
  if (lookbackMs <= 0 || offsetMs(atOrAfterMs - lookbackMs, timeZone) === nowOffsetMs) lookbackMs = 0;
  const fromWallMs = atOrAfterMs + nowOffsetMs - lookbackMs;
  const walls =
    schedule.kind === 'cron'
      ? cronWalls(schedule.cron, fromWallMs)
      : timeWalls(schedule.times, schedule.days, fromWallMs);
  let bestMs = Number.POSITIVE_INFINITY;
  // Past the first match, a later wall time can only resolve earlier if that match was shifted by a gap,
  // and only within the gap's length of it.
  let untilWallMs = Number.POSITIVE_INFINITY;
  for (const wallMs of walls) {
    if (wallMs > untilWallMs) break;
    const instantMs = instantOfWall(wallMs, timeZone);
    if (instantMs < atOrAfterMs || instantMs >= bestMs) continue;
    if (bestMs === Number.POSITIVE_INFINITY) untilWallMs = wallMs + lastGapShiftMs();
    bestMs = instantMs;
    if (untilWallMs === wallMs) break;
  }
  if (bestMs === Number.POSITIVE_INFINITY) {
    const what = schedule.kind === 'cron' ? `cron "${schedule.cron}"` : 'time of day';
    throw new RangeError(
      `loop option ${what} has no occurrence after ${new Date(atOrAfterMs).toISOString()}`,
    );
  }
  return bestMs;
}

/** The ISO weekday (1 = Monday … 7 = Sunday) of a wall-clock day written as if UTC. */
function isoWeekday(wallDayMs: number): number {
  return new Date(wallDayMs).getUTCDay() || 7;
}

/**
 * The listed times of day (on the listed weekdays, if any) as wall-clock instants (written as if UTC), from
 * `fromWallMs` on, in order.
 */
function* timeWalls(
  times: readonly TimeOfDay[],
  days: readonly number[] | undefined,
  fromWallMs: number,
): Generator<number> {
  const firstDayMs = Math.floor(fromWallMs / DAY_MS) * DAY_MS;
  // Three days cover any DST shift; a fourth covers the lookback into the day before; a week more, weekdays.
  const lastDayMs = firstDayMs + (days === undefined ? 3 : 10) * DAY_MS;
  for (let dayMs = firstDayMs; dayMs <= lastDayMs; dayMs += DAY_MS) {
    if (days !== undefined && !days.includes(isoWeekday(dayMs))) continue;
    for (const t of times) {
      const wallMs = dayMs + (t.hour * 3600 + t.minute * 60 + t.second) * 1000;
      if (wallMs >= fromWallMs) yield wallMs;
    }
  }
}
