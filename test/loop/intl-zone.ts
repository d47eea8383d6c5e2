// Time-zone facts read from Intl directly, for tests that check the engine's own (cached) zone arithmetic.

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock reading of `ms` in `zone`, as a UTC timestamp of its fields (whole seconds). */
export function intlWallOf(ms: number, zone: string): number {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(ms)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
}

/** The UTC offset of `zone` at `ms` (local = UTC + offset). */
export function intlOffsetOf(ms: number, zone: string): number {
  return intlWallOf(ms, zone) - (ms - (((ms % 1000) + 1000) % 1000));
}

export interface Transition {
  /** First instant with the new offset. */
  atMs: number;
  beforeMs: number;
  afterMs: number;
}

const HOUR = 3_600_000;

/** The zone's offset changes in [fromMs, toMs): six-hour steps, then bisection to the second. */
export function intlTransitions(zone: string, fromMs: number, toMs: number): Transition[] {
  const found: Transition[] = [];
  for (let t = fromMs; t < toMs; t += 6 * HOUR) {
    const beforeMs = intlOffsetOf(t, zone);
    const afterMs = intlOffsetOf(t + 6 * HOUR, zone);
    if (beforeMs === afterMs) continue;
    let lo = t / 1000;
    let hi = (t + 6 * HOUR) / 1000;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (intlOffsetOf(mid * 1000, zone) === beforeMs) lo = mid;
      else hi = mid;
    }
    found.push({ atMs: hi * 1000, beforeMs, afterMs });
  }
  return found;
}
