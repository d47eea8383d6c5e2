// The engine's cron slots against croner's own time-zone answers, over two years of slots in zones with DST
// (and one without). The engine asks croner to match wall-clock times only and resolves them itself, so
// this is the check that the faster path (shared slots, offsets remembered between DST changes) still
// agrees with croner wherever the engine's DST rule does. Where the rules differ, on purpose, the
// expectation is croner's answer corrected by the engine's rule (DESIGN.md, "The loop engine"):
// - a repeated wall time runs once, at its first occurrence; croner runs "interval" jobs (a wildcard, step,
//   list or range in seconds, minutes or hours) at both occurrences;
// - a wall time skipped by a spring-forward gap runs shifted forward by the gap's length (02:30 → 03:30);
//   croner skips it for interval jobs and runs fixed-time jobs at the end of the gap (03:00).
// The transitions and wall readings below come from Intl directly, not from the engine's zone arithmetic.
import { Cron } from 'croner';
import { describe, expect, it } from 'vitest';
import { firstDueAt, nextDueAfter, normalizeSchedule } from '../../src/loop/schedule.js';
import { intlTransitions, type Transition, intlWallOf as wallOf } from './intl-zone.js';

const FROM = Date.UTC(2025, 0, 1);
const TO = Date.UTC(2027, 0, 1);
const HOUR = 3_600_000;

const ZONES = [
  'America/New_York',
  'Europe/London',
  'Australia/Lord_Howe', // 30-minute DST
  'Asia/Kathmandu', // +05:45, no DST
  'Pacific/Chatham', // +12:45 / +13:45, changing at 02:45
  'America/Santiago', // southern hemisphere, changing at midnight
];

/** The engine's slots in [fromMs, toMs), as a loop whose iterations take no time sees them. */
function engineSlots(cron: string, zone: string, fromMs: number, toMs: number): number[] {
  const schedule = normalizeSchedule({ cron, timeZone: zone });
  const out: number[] = [];
  for (
    let due = firstDueAt(schedule, fromMs);
    due < toMs;
    due = nextDueAfter(schedule, { anchorMs: 0, lastDueMs: due, nowMs: due })
  ) {
    out.push(due);
  }
  return out;
}

/** croner's own slots for `cron` in `zone` over [fromMs, toMs), corrected by the engine's DST rule. */
function expectedSlots(cron: string, zone: string, fromMs: number, toMs: number, changes: Transition[]) {
  const zoned = new Cron(cron, { timezone: zone, paused: true });
  const wallMatcher = new Cron(cron, { utcOffset: 0, paused: true });
  const seenWalls = new Set<number>();
  const out = new Set<number>();
  const inGap = (ms: number) =>
    changes.some((c) => c.afterMs > c.beforeMs && ms >= c.atMs && ms < c.atMs + c.afterMs - c.beforeMs);
  for (let next = zoned.nextRun(new Date(fromMs - 1)); next !== null; next = zoned.nextRun(next)) {
    const ms = next.getTime();
    if (ms >= toMs) break;
    const wall = wallOf(ms, zone);
    // A repeated wall time: the engine keeps only its first occurrence.
    if (seenWalls.has(wall)) continue;
    seenWalls.add(wall);
    // croner's fixed-time answer for a time in a gap (the end of the gap, which the pattern does not match):
    // the engine runs the gap's own wall times instead, added below.
    if (inGap(ms) && !wallMatcher.match(new Date(wall))) continue;
    out.add(ms);
  }
  for (const c of changes) {
    if (c.afterMs <= c.beforeMs) continue; // an overlap, not a gap
    const gapFromWall = c.atMs + c.beforeMs;
    const gapToWall = c.atMs + c.afterMs;
    for (let w = wallMatcher.nextRun(new Date(gapFromWall - 1)); w !== null; w = wallMatcher.nextRun(w)) {
      if (w.getTime() >= gapToWall) break;
      const shifted = w.getTime() - c.beforeMs; // read with the offset before the gap: forward by its length
      if (shifted >= fromMs && shifted < toMs) out.add(shifted);
    }
  }
  return [...out].sort((a, b) => a - b);
}

const iso = (ms: number) => new Date(ms).toISOString();

describe.each(ZONES)('cron in %s, 2025-2026, against croner with the engine DST rule', (zone) => {
  const changes = intlTransitions(zone, FROM, TO);

  it('finds the zone transitions the table relies on', () => {
    expect(changes.length).toBe(zone === 'Asia/Kathmandu' ? 0 : 4);
  });

  // Sparse expressions: every slot of the two years.
  it.each([
    '0 2 * * *', // daily at 02:00: in New York's and Lord Howe's gaps
    '30 1 * * 0', // Sundays 01:30, inside London's repeated hour
    '0 */6 * * *', // every six hours
    '0 45 2 * * *', // 6 fields: 02:45:00, the start of Chatham's gap
    '0 0 * * *', // midnight, inside Santiago's gap
  ])('%s: every slot', (cron) => {
    expect(engineSlots(cron, zone, FROM, TO).map(iso)).toEqual(
      expectedSlots(cron, zone, FROM, TO, changes).map(iso),
    );
  });

  // Dense expressions: every slot within a few hours of each transition, and of one ordinary day.
  it.each([
    ['* * * * *', 3],
    ['*/20 * * * * *', 1.5], // 6 fields: every 20 seconds
    ['15,45 * * * *', 3],
  ])('%s: every slot around each transition', (cron, hours) => {
    const centres = [...changes.map((c) => c.atMs), Date.UTC(2025, 4, 20, 12)];
    for (const centre of centres) {
      const fromMs = centre - hours * HOUR;
      const toMs = centre + hours * HOUR;
      expect(engineSlots(cron, zone, fromMs, toMs).map(iso)).toEqual(
        expectedSlots(cron, zone, fromMs, toMs, changes).map(iso),
      );
    }
  });
});

describe('where the engine and croner differ on purpose', () => {
  it("runs a repeated wall time once, where croner's interval job runs it twice", () => {
    // New York, 2025-11-02: 01:00-01:59 happens in EDT, then again in EST.
    const fromMs = Date.parse('2025-11-02T05:00:00Z');
    const toMs = Date.parse('2025-11-02T07:00:00Z');
    const zoned = new Cron('*/30 * * * *', { timezone: 'America/New_York', paused: true });
    expect(zoned.nextRuns(4, new Date(fromMs - 1)).map((d) => d.toISOString())).toEqual([
      '2025-11-02T05:00:00.000Z', // 01:00 EDT
      '2025-11-02T05:30:00.000Z', // 01:30 EDT
      '2025-11-02T06:00:00.000Z', // 01:00 EST, again
      '2025-11-02T06:30:00.000Z', // 01:30 EST, again
    ]);
    expect(engineSlots('*/30 * * * *', 'America/New_York', fromMs, toMs).map(iso)).toEqual([
      '2025-11-02T05:00:00.000Z',
      '2025-11-02T05:30:00.000Z',
    ]);
  });

  it("shifts a gap time forward by the gap's length, where croner runs it at the gap's end", () => {
    // New York, 2025-03-09: 02:00 EST jumps to 03:00 EDT; 02:30 is shifted to 03:30 EDT.
    const fromMs = Date.parse('2025-03-09T06:00:00Z');
    const zoned = new Cron('30 2 * * *', { timezone: 'America/New_York', paused: true });
    expect(zoned.nextRun(new Date(fromMs))?.toISOString()).toBe('2025-03-09T07:00:00.000Z');
    expect(engineSlots('30 2 * * *', 'America/New_York', fromMs, fromMs + 3 * HOUR).map(iso)).toEqual([
      '2025-03-09T07:30:00.000Z',
    ]);
  });

  it("runs the gap's times that croner's interval job skips (Lord Howe's half-hour gap)", () => {
    // Lord Howe, 2025-10-05: 02:00 +10:30 jumps to 02:30 +11:00; 02:00 and 02:15 are shifted by 30 minutes.
    const fromMs = Date.parse('2025-10-04T15:00:00Z');
    const toMs = Date.parse('2025-10-04T16:30:00Z');
    const zoned = new Cron('0,15 2 * * *', { timezone: 'Australia/Lord_Howe', paused: true });
    // croner skips both: its next run is 02:00 the day after.
    expect(zoned.nextRun(new Date(fromMs))?.toISOString()).toBe('2025-10-05T15:00:00.000Z');
    expect(engineSlots('0,15 2 * * *', 'Australia/Lord_Howe', fromMs, toMs).map(iso)).toEqual([
      '2025-10-04T15:30:00.000Z', // 02:00 → 02:30 +11:00
      '2025-10-04T15:45:00.000Z', // 02:15 → 02:45 +11:00
    ]);
  });
});
