// Pure schedule arithmetic: no timers, no clock, just (schedule, now) → next due instant.
import { describe, expect, it } from 'vitest';
import {
  firstDueAt,
  nextDueAfter,
  normalizeSchedule,
  type Schedule,
  slotAtOrAfter,
  type WallSchedule,
  wallJumpShiftMs,
  wallTimeToInstant,
} from '../../src/loop/schedule.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

/** The first `n` slots strictly after `fromIso`, as a loop with zero-length iterations would see them. */
function slots(schedule: Schedule, fromIso: string, n: number): string[] {
  const out: string[] = [];
  let last = Number.NEGATIVE_INFINITY;
  let now = at(fromIso);
  for (let i = 0; i < n; i++) {
    const due =
      i === 0
        ? firstDueAt(schedule, now)
        : nextDueAfter(schedule, { anchorMs: 0, lastDueMs: last, nowMs: now });
    out.push(iso(due));
    last = due;
    now = due;
  }
  return out;
}

describe('normalizeSchedule', () => {
  it('sums seconds, minutes and hours into one interval', () => {
    expect(normalizeSchedule({ seconds: 30, minutes: 2, hours: 1 })).toEqual({
      kind: 'relative',
      intervalMs: 3_600_000 + 120_000 + 30_000,
    });
    expect(normalizeSchedule({})).toEqual({ kind: 'relative', intervalMs: 0 });
  });

  it('sorts and de-duplicates times of day, accepting strings and objects', () => {
    const schedule = normalizeSchedule({
      time: ['21:30', '09:00', { hour: 9 }, '9:00:00', { hour: 0, minute: 5, second: 7 }],
    });
    expect(schedule).toEqual({
      kind: 'time',
      timeZone: 'UTC',
      times: [
        { hour: 0, minute: 5, second: 7 },
        { hour: 9, minute: 0, second: 0 },
        { hour: 21, minute: 30, second: 0 },
      ],
    });
  });

  it('accepts a single time and canonicalises the zone name', () => {
    expect(normalizeSchedule({ time: '12:00', timeZone: 'europe/paris' })).toMatchObject({
      timeZone: 'Europe/Paris',
    });
  });

  it.each([
    [{ seconds: -1 }, RangeError, /"seconds".*-1/],
    [{ minutes: Number.NaN }, RangeError, /"minutes".*NaN/],
    [{ hours: Number.POSITIVE_INFINITY }, RangeError, /"hours"/],
    [{ seconds: '5' as unknown as number }, TypeError, /"seconds" must be a number/],
    [{ seconds: 5, time: '09:00' }, TypeError, /"time" and "seconds\/minutes\/hours"/],
    [{ minutes: 5, cron: '* * * * *' }, TypeError, /"cron" and "seconds\/minutes\/hours"/],
    [{ time: '09:00', cron: '* * * * *' }, TypeError, /"time" and "cron"/],
    [{ time: [] }, RangeError, /"time" must list at least one/],
    [{ time: '25:00' }, RangeError, /"time".*"25:00"/],
    [{ time: '9am' }, RangeError, /"time" has "9am"/],
    [{ time: { hour: 12, minute: 60 } }, RangeError, /"time"/],
    [{ time: '09:00', timeZone: 'Mars/Olympus' }, RangeError, /"timeZone".*Mars\/Olympus/],
    [{ cron: 'not a cron' }, RangeError, /"cron".*not a cron/],
    [{ cron: '0 0 30 2 *' }, RangeError, /"cron" "0 0 30 2 \*" never runs/],
    [{ cron: '0 0 9 31 4 *', timeZone: 'Europe/Paris' }, RangeError, /never runs/],
    [{ cron: '0 0 0 1 1 * 2030' }, RangeError, /"cron" must have 5 fields .* or 6 .*got 7/],
    [{ cron: '@daily' }, RangeError, /"cron" must have 5 fields .*got 1: "@daily"/],
    [{ cron: '0 9 * *' }, RangeError, /"cron" must have 5 fields .*got 4/],
    [{ seconds: 5, timeZone: 'UTC' }, TypeError, /"timeZone" only applies/],
  ])('rejects %j', (options, type, message) => {
    expect(() => normalizeSchedule(options)).toThrow(type);
    expect(() => normalizeSchedule(options)).toThrow(message);
  });
});

describe('relative schedules', () => {
  const every10s: Schedule = { kind: 'relative', intervalMs: 10_000 };

  it('starts now and keeps to the grid anchor + k × interval', () => {
    expect(firstDueAt(every10s, 1_000)).toBe(1_000);
    expect(nextDueAfter(every10s, { anchorMs: 1_000, lastDueMs: 1_000, nowMs: 1_000 })).toBe(11_000);
    // A slow iteration that still ends before its next slot does not shift it.
    expect(nextDueAfter(every10s, { anchorMs: 1_000, lastDueMs: 11_000, nowMs: 19_999 })).toBe(21_000);
  });

  it('skips the slots an overrunning iteration missed instead of bunching them', () => {
    expect(nextDueAfter(every10s, { anchorMs: 0, lastDueMs: 0, nowMs: 25_000 })).toBe(30_000);
    // Finishing exactly on a slot runs that slot now.
    expect(nextDueAfter(every10s, { anchorMs: 0, lastDueMs: 0, nowMs: 20_000 })).toBe(20_000);
  });

  it('never repeats the last slot and never goes before the anchor', () => {
    expect(nextDueAfter(every10s, { anchorMs: 50_000, lastDueMs: Number.NEGATIVE_INFINITY, nowMs: 0 })).toBe(
      50_000,
    );
    expect(nextDueAfter(every10s, { anchorMs: 0, lastDueMs: 30_000, nowMs: 29_000 })).toBe(40_000);
  });

  it('accumulates no rounding drift over 10,000 slots of a fractional interval', () => {
    const third: Schedule = { kind: 'relative', intervalMs: 1000 / 3 };
    let due = 0;
    for (let i = 0; i < 10_000; i++) due = nextDueAfter(third, { anchorMs: 0, lastDueMs: due, nowMs: due });
    expect(due).toBeCloseTo(10_000_000 / 3, 6);
  });

  it('runs back-to-back (interval 0) as soon as possible but one millisecond apart at least', () => {
    const b2b: Schedule = { kind: 'relative', intervalMs: 0 };
    expect(nextDueAfter(b2b, { anchorMs: 0, lastDueMs: 500, nowMs: 500 })).toBe(501);
    expect(nextDueAfter(b2b, { anchorMs: 0, lastDueMs: 500, nowMs: 900 })).toBe(900);
  });
});

describe('times of day', () => {
  it('runs a time equal to now now, and otherwise the next listed time', () => {
    const s = normalizeSchedule({ time: ['09:00', '17:00'] });
    expect(iso(firstDueAt(s, at('2025-01-01T09:00:00Z')))).toBe('2025-01-01T09:00:00.000Z');
    expect(iso(firstDueAt(s, at('2025-01-01T09:00:01Z')))).toBe('2025-01-01T17:00:00.000Z');
  });

  it('wraps a time list across midnight', () => {
    const s = normalizeSchedule({ time: ['23:59', '00:01'] });
    expect(slots(s, '2025-01-01T23:00:00Z', 4)).toEqual([
      '2025-01-01T23:59:00.000Z',
      '2025-01-02T00:01:00.000Z',
      '2025-01-02T23:59:00.000Z',
      '2025-01-03T00:01:00.000Z',
    ]);
  });

  it('crosses the year and a leap day', () => {
    const s = normalizeSchedule({ time: '12:00' });
    expect(slots(s, '2024-02-28T13:00:00Z', 2)).toEqual([
      '2024-02-29T12:00:00.000Z',
      '2024-03-01T12:00:00.000Z',
    ]);
    expect(slots(s, '2024-12-31T13:00:00Z', 1)).toEqual(['2025-01-01T12:00:00.000Z']);
  });

  it('follows the wall clock of its zone', () => {
    const s = normalizeSchedule({ time: '09:00', timeZone: 'Asia/Kolkata' });
    expect(slots(s, '2025-06-01T00:00:00Z', 1)).toEqual(['2025-06-01T03:30:00.000Z']);
  });

  // Each case: a spring-forward day (a time in the gap runs once, shifted forward by the gap's length, as
  // discord.py, RFC 5545 and Temporal's `compatible` do) and a fall-back day (a repeated time runs once, at
  // its first occurrence). Times of day and the same time as a cron expression must agree.
  describe.each([
    {
      zone: 'America/New_York', // 02:00 EST → 03:00 EDT; 02:00 EDT → 01:00 EST
      springGap: '02:30', // 03:30 EDT
      spring: ['2022-03-13T00:00:00Z', ['2022-03-13T07:30:00.000Z', '2022-03-14T06:30:00.000Z']],
      fallOverlap: '01:30', // 01:30 EDT, not 01:30 EST an hour later
      fall: ['2022-11-06T00:00:00Z', ['2022-11-06T05:30:00.000Z', '2022-11-07T06:30:00.000Z']],
    },
    {
      zone: 'Europe/London', // 01:00 GMT → 02:00 BST; 02:00 BST → 01:00 GMT
      springGap: '01:30', // 02:30 BST
      spring: ['2025-03-29T12:00:00Z', ['2025-03-30T01:30:00.000Z', '2025-03-31T00:30:00.000Z']],
      fallOverlap: '01:30',
      fall: ['2025-10-25T12:00:00Z', ['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z']],
    },
    {
      // A 30-minute shift: 02:00 → 02:30 in October, 02:00 → 01:30 in April.
      zone: 'Australia/Lord_Howe',
      springGap: '02:15', // 02:45 +11:00
      spring: ['2025-10-04T00:00:00Z', ['2025-10-04T15:45:00.000Z', '2025-10-05T15:15:00.000Z']],
      fallOverlap: '01:45',
      fall: ['2025-04-05T00:00:00Z', ['2025-04-05T14:45:00.000Z', '2025-04-06T15:15:00.000Z']],
    },
  ] as const)('DST in $zone', ({ zone, springGap, spring, fallOverlap, fall }) => {
    const asCron = (hhmm: string) => {
      const [hour, minute] = hhmm.split(':').map(Number) as [number, number];
      return `${minute} ${hour} * * *`;
    };

    it(`runs ${springGap} once on spring-forward day, shifted forward by the gap's length`, () => {
      expect(slots(normalizeSchedule({ time: springGap, timeZone: zone }), spring[0], 2)).toEqual(spring[1]);
      expect(slots(normalizeSchedule({ cron: asCron(springGap), timeZone: zone }), spring[0], 2)).toEqual(
        spring[1],
      );
    });

    it(`runs ${fallOverlap} once on fall-back day, at its first occurrence`, () => {
      expect(slots(normalizeSchedule({ time: fallOverlap, timeZone: zone }), fall[0], 2)).toEqual(fall[1]);
      expect(slots(normalizeSchedule({ cron: asCron(fallOverlap), timeZone: zone }), fall[0], 2)).toEqual(
        fall[1],
      );
    });

    it('still finds a shifted gap time after the gap has begun', () => {
      const s = normalizeSchedule({ time: springGap, timeZone: zone });
      const shifted = at(spring[1][0]);
      expect(iso(firstDueAt(s, shifted - 60_000))).toBe(spring[1][0]);
      expect(
        iso(firstDueAt(normalizeSchedule({ cron: asCron(springGap), timeZone: zone }), shifted - 60_000)),
      ).toBe(spring[1][0]);
    });
  });

  it('runs two listed times inside one gap each once, shifted, in order', () => {
    const s = normalizeSchedule({ time: ['02:10', '02:40'], timeZone: 'America/New_York' });
    expect(slots(s, '2025-03-09T00:00:00Z', 3)).toEqual([
      '2025-03-09T07:10:00.000Z', // 03:10 EDT
      '2025-03-09T07:40:00.000Z', // 03:40 EDT
      '2025-03-10T06:10:00.000Z',
    ]);
  });

  it('orders a shifted gap time after a listed time it overtakes, and merges it with one it lands on', () => {
    const overtaken = normalizeSchedule({ time: ['02:30', '03:15'], timeZone: 'America/New_York' });
    expect(slots(overtaken, '2022-03-13T00:00:00Z', 3)).toEqual([
      '2022-03-13T07:15:00.000Z', // 03:15 EDT
      '2022-03-13T07:30:00.000Z', // 02:30, shifted to 03:30 EDT
      '2022-03-14T06:30:00.000Z',
    ]);
    const landedOn = normalizeSchedule({ time: ['02:30', '03:30'], timeZone: 'America/New_York' });
    expect(slots(landedOn, '2022-03-13T00:00:00Z', 2)).toEqual([
      '2022-03-13T07:30:00.000Z',
      '2022-03-14T06:30:00.000Z',
    ]);
  });

  it('resolves wall times to instants outside DST changes unambiguously', () => {
    const wall = { year: 2025, month: 7, day: 1, hour: 12, minute: 0, second: 0 };
    expect(iso(wallTimeToInstant(wall, 'America/New_York'))).toBe('2025-07-01T16:00:00.000Z');
    expect(iso(wallTimeToInstant(wall, 'Australia/Lord_Howe'))).toBe('2025-07-01T01:30:00.000Z');
  });
});

describe('cron', () => {
  it('matches each repeated wall time of a fall-back hour once, and shifts a gap out of nothing', () => {
    // croner alone runs 01:00-01:40 twice on this day (EDT, then EST) and would skip 02:00 and 02:30 on
    // the spring-forward day.
    const everyTwenty = normalizeSchedule({ cron: '*/20 1 * * *', timeZone: 'America/New_York' });
    expect(slots(everyTwenty, '2022-11-06T00:00:00Z', 4)).toEqual([
      '2022-11-06T05:00:00.000Z',
      '2022-11-06T05:20:00.000Z',
      '2022-11-06T05:40:00.000Z',
      '2022-11-07T06:00:00.000Z',
    ]);
    const inGap = normalizeSchedule({ cron: '0,30 2 * * *', timeZone: 'America/New_York' });
    expect(slots(inGap, '2022-03-13T00:00:00Z', 3)).toEqual([
      '2022-03-13T07:00:00.000Z', // 02:00 → 03:00 EDT
      '2022-03-13T07:30:00.000Z', // 02:30 → 03:30 EDT
      '2022-03-14T06:00:00.000Z',
    ]);
    // An hourly job: the 02:00 that does not exist lands on 03:00 EDT, which runs once.
    const hourly = normalizeSchedule({ cron: '0 * * * *', timeZone: 'America/New_York' });
    expect(slots(hourly, '2022-03-13T05:30:00Z', 3)).toEqual([
      '2022-03-13T06:00:00.000Z',
      '2022-03-13T07:00:00.000Z',
      '2022-03-13T08:00:00.000Z',
    ]);
  });

  it('evaluates the expression in its time zone, DST included', () => {
    const s = normalizeSchedule({ cron: '0 9 * * *', timeZone: 'Europe/Paris' });
    expect(slots(s, '2025-03-29T00:00:00Z', 3)).toEqual([
      '2025-03-29T08:00:00.000Z',
      '2025-03-30T07:00:00.000Z',
      '2025-03-31T07:00:00.000Z',
    ]);
  });

  it('stays correct past its cache of parsed expressions', () => {
    const expressions = Array.from({ length: 300 }, (_, i) => `${i % 60} ${Math.floor(i / 60)} * * *`);
    for (const cron of [...expressions, ...expressions.slice(0, 5)]) {
      const [minute, hour] = cron.split(' ').map(Number) as [number, number];
      const due = firstDueAt(normalizeSchedule({ cron }), at('2025-01-01T00:00:00Z'));
      expect(due).toBe(Date.UTC(2025, 0, 1, hour, minute));
    }
  });

  it('includes a slot equal to now and supports 6-field (seconds) expressions', () => {
    const s = normalizeSchedule({ cron: '*/15 * * * * *' });
    expect(iso(firstDueAt(s, at('2025-01-01T00:00:15Z')))).toBe('2025-01-01T00:00:15.000Z');
    expect(iso(firstDueAt(s, at('2025-01-01T00:00:15.001Z')))).toBe('2025-01-01T00:00:30.000Z');
    expect(slotAtOrAfter(s as WallSchedule, at('2025-01-01T00:00:31Z'))).toBe(at('2025-01-01T00:00:45Z'));
  });
});

describe('weekly times of day (time + days)', () => {
  it('runs only on the listed ISO weekdays, in order, in the zone', () => {
    // 2025-01-06 is a Monday.
    const s = normalizeSchedule({ time: '09:00', days: [5, 1, 3], timeZone: 'Europe/Paris' });
    expect(slots(s, '2025-01-06T09:00:00Z', 4)).toEqual([
      '2025-01-08T08:00:00.000Z', // Wednesday 09:00 CET (Monday's 09:00 CET = 08:00 UTC is past)
      '2025-01-10T08:00:00.000Z', // Friday
      '2025-01-13T08:00:00.000Z', // Monday
      '2025-01-15T08:00:00.000Z',
    ]);
  });

  it('keeps the wall time across a DST change (Sundays 10:00 in Paris, last Sunday of March)', () => {
    const s = normalizeSchedule({ time: '10:00', days: [7], timeZone: 'Europe/Paris' });
    expect(slots(s, '2025-03-20T00:00:00Z', 3)).toEqual([
      '2025-03-23T09:00:00.000Z', // CET
      '2025-03-30T08:00:00.000Z', // CEST from that morning
      '2025-04-06T08:00:00.000Z',
    ]);
  });

  it('shifts a weekly time inside a spring-forward gap forward by the gap', () => {
    const s = normalizeSchedule({ time: '02:30', days: [7], timeZone: 'America/New_York' });
    expect(iso(firstDueAt(s, at('2025-03-08T00:00:00Z')))).toBe('2025-03-09T07:30:00.000Z'); // 03:30 EDT
  });

  it('treats all seven days as every day and refuses bad weekdays', () => {
    expect(normalizeSchedule({ time: '09:00', days: [1, 2, 3, 4, 5, 6, 7] })).toBe(
      normalizeSchedule({ time: '09:00' }),
    );
    expect(() => normalizeSchedule({ time: '09:00', days: [] })).toThrow(/at least one weekday/);
    expect(() => normalizeSchedule({ time: '09:00', days: [0] })).toThrow(/1 \(Monday\) to 7/);
    expect(() => normalizeSchedule({ time: '09:00', days: [1.5] })).toThrow(RangeError);
    expect(() => normalizeSchedule({ minutes: 1, days: [1] })).toThrow(/only applies to "time"/);
  });
});

describe('a one-off instant (at)', () => {
  it('is due at its instant, then never again', () => {
    const atMs = at('2026-12-24T17:00:00Z');
    const s = normalizeSchedule({ at: new Date(atMs) });
    expect(s).toEqual({ kind: 'once', atMs });
    expect(firstDueAt(s, at('2026-12-01T00:00:00Z'))).toBe(atMs);
    expect(nextDueAfter(s, { anchorMs: atMs, lastDueMs: atMs, nowMs: atMs + 5 })).toBe(
      Number.POSITIVE_INFINITY,
    );
    // Missed (now past it, never ran): no slot left either.
    expect(nextDueAfter(s, { anchorMs: atMs, lastDueMs: Number.NEGATIVE_INFINITY, nowMs: atMs + 1 })).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(nextDueAfter(s, { anchorMs: atMs, lastDueMs: Number.NEGATIVE_INFINITY, nowMs: atMs - 1 })).toBe(
      atMs,
    );
  });

  it('refuses to be combined or given a bad instant', () => {
    expect(() => normalizeSchedule({ at: 1, minutes: 1 })).toThrow(/cannot be combined/);
    expect(() => normalizeSchedule({ at: 1, time: '09:00' })).toThrow(/cannot be combined/);
    expect(() => normalizeSchedule({ at: new Date(Number.NaN) })).toThrow(/valid Date/);
    expect(() => normalizeSchedule({ at: Number.POSITIVE_INFINITY })).toThrow(/valid Date/);
    expect(() => normalizeSchedule({ at: 1, timeZone: 'Mars/Olympus' })).toThrow(/time zone/);
  });
});

describe('wallJumpShiftMs', () => {
  it('moves an interval grid by the wall-clock step, rounded down, and never back onto a slot already run', () => {
    expect(wallJumpShiftMs(3_600_000.7, 60_000)).toBe(3_600_000); // forward: rounded down, never early
    expect(wallJumpShiftMs(-1_500.2, 60_000)).toBe(-1_501);
    expect(wallJumpShiftMs(-120_000, 60_000)).toBe(-120_001); // back by whole intervals: one ms earlier
    expect(wallJumpShiftMs(-60_000, 60_000)).toBe(-60_001);
    expect(wallJumpShiftMs(120_000, 60_000)).toBe(120_000); // forward by whole intervals repeats nothing
  });
});
