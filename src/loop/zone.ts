// Time-zone arithmetic: UTC offsets from Intl, remembered per zone as spans of one offset, and wall-clock
// times resolved to instants under the engine's DST rule. An Intl read costs microseconds and a slot takes
// several offset reads, so a slot computed between two DST changes reads no Intl at all.

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** One formatter per zone (each costs ~100 µs to make); throws a RangeError for an unknown zone. */
export function formatterFor(timeZone: string): Intl.DateTimeFormat {
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

/** The offset as Intl reads it, without the span cache. */
function readOffsetMs(instantMs: number, timeZone: string): number {
  const w = wallClock(instantMs, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - (instantMs - (((instantMs % 1000) + 1000) % 1000));
}

// ---------------------------------------------------------------------------------------------------------
// Offset spans

/**
 * Instants from `fromMs` to `toMs` (inclusive) all have `offsetMs`. Two reads at most STEP_MS apart that
 * agree make one span: like the rest of the engine, that assumes no zone changes its offset twice within two
 * days. Where two spans of different offsets come within STEP_MS, the change between them is found to the
 * second, so reads near a DST change stop costing Intl too.
 */
interface OffsetSpan {
  fromMs: number;
  toMs: number;
  offsetMs: number;
}

const STEP_MS = 2 * DAY_MS;
/**
 * A span grown forward by a nearby read is probed this far beyond it, so reads marching forward (the slots
 * of a schedule, day after day) hit. Nothing marches backward, so a span grown backward is not probed.
 */
const PROBE_MS = 6 * DAY_MS;
/** Spans kept per zone: a DST zone has two a year, so this covers the years a process looks at. */
const SPANS_PER_ZONE = 32;

/** Per zone, disjoint spans sorted by fromMs. One-off reads (400 zones' offsets now) add one span each. */
const spansByZone = new Map<string, OffsetSpan[]>();

/** UTC offset of `timeZone` at `instantMs`, in ms (local = UTC + offset). */
export function offsetMs(instantMs: number, timeZone: string): number {
  if (timeZone === 'UTC') return 0;
  const spans = spansByZone.get(timeZone);
  const index = spans === undefined ? -1 : spanIndexAtOrBefore(spans, instantMs);
  const span = spans?.[index];
  if (span !== undefined && instantMs <= span.toMs) return span.offsetMs;
  // Throws for an unknown zone or an invalid instant, before anything is learned from it.
  const offset = readOffsetMs(instantMs, timeZone);
  if (spans === undefined)
    spansByZone.set(timeZone, [{ fromMs: instantMs, toMs: instantMs, offsetMs: offset }]);
  else learn(spans, index, instantMs, offset, timeZone);
  return offset;
}

/** The index of the last span starting at or before `instantMs`, or -1. */
function spanIndexAtOrBefore(spans: readonly OffsetSpan[], instantMs: number): number {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (spans[mid]!.fromMs <= instantMs) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi;
}

/** Records Intl's `offset` at `instantMs`, which no span covers; spans[index] is the span before it. */
function learn(
  spans: OffsetSpan[],
  index: number,
  instantMs: number,
  offset: number,
  timeZone: string,
): void {
  const before = spans[index];
  const after = spans[index + 1];
  const near = (fromMs: number, toMs: number) => toMs - fromMs <= STEP_MS;
  if (before !== undefined && before.offsetMs === offset && near(before.toMs, instantMs)) {
    before.toMs = instantMs;
    probeForward(before, after?.fromMs ?? Number.POSITIVE_INFINITY, timeZone);
    if (after !== undefined && near(before.toMs, after.fromMs)) {
      if (after.offsetMs !== offset) splitAtChange(before, after, timeZone);
      else {
        before.toMs = after.toMs;
        spans.splice(index + 1, 1);
      }
    }
    return;
  }
  if (after !== undefined && after.offsetMs === offset && near(instantMs, after.fromMs)) {
    after.fromMs = instantMs;
    // Same offset as `before` within reach would have taken the branch above, so this is a change.
    if (before !== undefined && near(before.toMs, after.fromMs)) splitAtChange(before, after, timeZone);
    return;
  }
  const span: OffsetSpan = { fromMs: instantMs, toMs: instantMs, offsetMs: offset };
  if (before !== undefined && near(before.toMs, instantMs)) splitAtChange(before, span, timeZone);
  if (after !== undefined && near(instantMs, after.fromMs)) splitAtChange(span, after, timeZone);
  spans.splice(index + 1, 0, span);
  if (spans.length > SPANS_PER_ZONE) {
    // Drop the span farthest from this read: reads cluster around now and the slots just ahead.
    const first = spans[0]!;
    const last = spans.at(-1)!;
    if (instantMs - first.toMs > last.fromMs - instantMs) spans.shift();
    else spans.pop();
  }
}

/** Grows `span` forward by reads STEP_MS apart that agree, up to PROBE_MS beyond it and short of `limitMs`. */
function probeForward(span: OffsetSpan, limitMs: number, timeZone: string): void {
  const edgeMs = span.toMs;
  for (let atMs = edgeMs + STEP_MS; atMs <= edgeMs + PROBE_MS && atMs < limitMs; atMs += STEP_MS) {
    if (readOffsetMs(atMs, timeZone) !== span.offsetMs) return;
    span.toMs = atMs;
  }
}

/**
 * `earlier` and `later` have different offsets and lie within STEP_MS: finds the second the offset changes
 * (offsets change on whole seconds) and grows both spans to meet there.
 */
function splitAtChange(earlier: OffsetSpan, later: OffsetSpan, timeZone: string): void {
  let loSecond = Math.floor(earlier.toMs / 1000); // reads earlier's offset
  let hiSecond = Math.floor(later.fromMs / 1000); // reads later's offset
  while (hiSecond - loSecond > 1) {
    const mid = Math.floor((loSecond + hiSecond) / 2);
    if (readOffsetMs(mid * 1000, timeZone) === earlier.offsetMs) loSecond = mid;
    else hiSecond = mid;
  }
  earlier.toMs = hiSecond * 1000 - 1;
  later.fromMs = hiSecond * 1000;
}

// ---------------------------------------------------------------------------------------------------------
// Wall-clock times to instants

/**
 * The instant a wall-clock time happens in `timeZone`. A time repeated by a fall-back overlap resolves to
 * its first occurrence; a time skipped by a spring-forward gap is shifted forward by the gap's length
 * (02:30 on a New York spring-forward day is 03:30 EDT), as discord.py, RFC 5545 and Temporal's
 * `compatible` disambiguation do.
 */
export function wallTimeToInstant(wall: WallTime, timeZone: string): number {
  return instantOfWall(
    Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second),
    timeZone,
  );
}

/** Set by instantOfWall: how far forward a gap moved the wall time it last resolved (0 outside gaps). */
let gapShiftMs = 0;

/** How far forward a DST gap moved the wall time instantOfWall last resolved (0 outside gaps). */
export function lastGapShiftMs(): number {
  return gapShiftMs;
}

/** wallTimeToInstant for a wall-clock time written as if it were UTC (`Date.UTC(…)` of its fields). */
export function instantOfWall(wallAsUtc: number, timeZone: string): number {
  gapShiftMs = 0;
  const offsetBefore = offsetMs(wallAsUtc - DAY_MS, timeZone);
  const offsetAfter = offsetMs(wallAsUtc + DAY_MS, timeZone);
  // No change near this time, the usual case.
  if (offsetBefore === offsetAfter) return wallAsUtc - offsetBefore;
  // The earlier candidate first: in an overlap both are valid and the first occurrence wins.
  const earlier = wallAsUtc - Math.max(offsetBefore, offsetAfter);
  const later = wallAsUtc - Math.min(offsetBefore, offsetAfter);
  if (earlier + offsetMs(earlier, timeZone) === wallAsUtc) return earlier;
  if (later + offsetMs(later, timeZone) === wallAsUtc) return later;
  // In a gap: read the wall time with the offset in force just before the gap, which moves it forward by
  // the gap's length. `earlier` lies before the transition (its local time falls short of the gap).
  const instantMs = wallAsUtc - offsetMs(earlier, timeZone);
  gapShiftMs = instantMs + offsetMs(instantMs, timeZone) - wallAsUtc;
  return instantMs;
}
