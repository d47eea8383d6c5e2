// The engine's UTC offsets are remembered as spans between DST changes (zone.ts); every read must still be
// exactly what Intl says, whatever order the reads come in, right up to the second of each change.
import { describe, expect, it, vi } from 'vitest';
import { offsetMs, wallTimeToInstant } from '../../src/loop/schedule.js';
import { intlOffsetOf, intlTransitions } from './intl-zone.js';

const FROM = Date.UTC(2024, 0, 1);
const TO = Date.UTC(2028, 0, 1);
const DAY = 86_400_000;

/** A small seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const ZONES = [
  'America/New_York',
  'Europe/London',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'America/Santiago',
];

describe.each(ZONES)('offsetMs in %s', (zone) => {
  const changes = intlTransitions(zone, FROM, TO);

  it('agrees with Intl to the millisecond around every change, read in any order', () => {
    const instants = changes.flatMap(({ atMs }) =>
      [-DAY, -1_001, -1_000, -1, 0, 1, 999, 1_000, DAY].map((d) => atMs + d),
    );
    const next = random(11);
    for (let i = instants.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [instants[i], instants[j]] = [instants[j]!, instants[i]!];
    }
    for (const ms of instants)
      expect(offsetMs(ms, zone), new Date(ms).toISOString()).toBe(intlOffsetOf(ms, zone));
  });

  it('agrees with Intl for reads marching forward hour by hour, then back, then at random', () => {
    const reads: number[] = [];
    for (let ms = FROM; ms < FROM + 400 * DAY; ms += 3_600_000) reads.push(ms);
    for (let ms = TO; ms > TO - 400 * DAY; ms -= 3_600_000 * 7 + 17) reads.push(ms);
    const next = random(7);
    for (let i = 0; i < 2_000; i++) reads.push(FROM + Math.floor(next() * (TO - FROM)));
    const wrong = reads.filter((ms) => offsetMs(ms, zone) !== intlOffsetOf(ms, zone));
    expect(wrong.map((ms) => new Date(ms).toISOString())).toEqual([]);
  });
});

describe('offsetMs', () => {
  it('costs one Intl read for a one-off read of each zone, and none once a span covers a read', () => {
    const zones = Intl.supportedValuesOf('timeZone');
    const at = Date.UTC(2026, 5, 15, 12);
    const reads = vi.spyOn(Intl.DateTimeFormat.prototype, 'formatToParts');
    try {
      for (const zone of zones) expect(offsetMs(at, zone)).toBe(intlOffsetOf(at, zone));
      // intlOffsetOf reads once per zone too.
      expect(reads.mock.calls.length).toBeLessThanOrEqual(2 * zones.length);
      reads.mockClear();
      // Reads marching forward in one zone: spans grow ahead of them, so Intl is read only now and then.
      for (let ms = at; ms < at + 30 * DAY; ms += 60_000) offsetMs(ms, 'Europe/Paris');
      expect(reads.mock.calls.length).toBeLessThan(30);
    } finally {
      reads.mockRestore();
    }
  });

  it('refuses an invalid instant or zone without learning anything wrong', () => {
    expect(() => offsetMs(Number.NaN, 'Europe/Paris')).toThrow(RangeError);
    expect(() => offsetMs(Date.UTC(2026, 0, 1), 'Mars/Olympus_Mons')).toThrow(RangeError);
    const ms = Date.UTC(2026, 6, 1);
    expect(offsetMs(ms, 'Europe/Paris')).toBe(2 * 3_600_000);
    expect(offsetMs(ms, 'UTC')).toBe(0);
  });

  it('resolves wall times through the remembered spans exactly as before (gap shifted, overlap first)', () => {
    const wall = (day: number, hour: number, minute: number) => ({
      year: 2026,
      month: 3,
      day,
      hour,
      minute,
      second: 0,
    });
    // New York 2026-03-08: 02:30 does not exist, runs at 03:30 EDT; 2026-11-01 01:30 happens twice.
    expect(new Date(wallTimeToInstant(wall(8, 2, 30), 'America/New_York')).toISOString()).toBe(
      '2026-03-08T07:30:00.000Z',
    );
    const overlap = { year: 2026, month: 11, day: 1, hour: 1, minute: 30, second: 0 };
    expect(new Date(wallTimeToInstant(overlap, 'America/New_York')).toISOString()).toBe(
      '2026-11-01T05:30:00.000Z',
    );
  });
});
