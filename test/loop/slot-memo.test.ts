// Loops on one wall-clock schedule share the slots computed so far (slot-memo.ts). A remembered slot must be
// exactly the one computed afresh, whatever order loops ask in, and loops sharing a schedule must share the
// work: croner is asked once per slot, not once per loop.
import { Cron } from 'croner';
import { describe, expect, it, vi } from 'vitest';
import {
  firstDueAt,
  nextDueAfter,
  normalizeSchedule,
  type ScheduleOptions,
  slotAtOrAfter,
  type WallSchedule,
} from '../../src/loop/schedule.js';

const START = Date.parse('2026-03-07T12:00:00Z'); // the day before New York springs forward
const HOUR = 3_600_000;

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const SCHEDULES: ScheduleOptions[] = [
  { cron: '*/7 * * * *', timeZone: 'America/New_York' },
  { cron: '*/20 * 1-3 * * *', timeZone: 'America/New_York' },
  { cron: '30 2 * * *', timeZone: 'America/New_York' },
  { time: ['02:30', '09:00'], days: [1, 3, 7], timeZone: 'America/New_York' },
];

describe.each(SCHEDULES)('shared slots of %o', (options) => {
  const schedule = normalizeSchedule(options) as WallSchedule;

  it('answers every query as a fresh computation would, in any order', () => {
    const next = random(5);
    const wrong: string[] = [];
    let lastDueMs = START;
    for (let i = 0; i < 3_000; i++) {
      const pick = next();
      // Mostly loops marching slot by slot (as they fire), some asking from anywhere within three days.
      const atMs =
        pick < 0.6 ? lastDueMs + 1 + Math.floor(next() * 5_000) : START + Math.floor(next() * 72 * HOUR);
      const got =
        pick < 0.8
          ? nextDueAfter(schedule, { anchorMs: 0, lastDueMs: atMs - 1, nowMs: atMs })
          : firstDueAt(schedule, atMs);
      const fresh = slotAtOrAfter(schedule, atMs);
      if (got !== fresh) wrong.push(`${new Date(atMs).toISOString()}: ${got} != ${fresh}`);
      if (pick < 0.6) lastDueMs = got;
      if (lastDueMs > START + 72 * HOUR) lastDueMs = START;
    }
    expect(wrong).toEqual([]);
  });
});

describe('loops sharing a schedule', () => {
  it('compute each slot once between them, not once each', () => {
    const nextRun = vi.spyOn(Cron.prototype, 'nextRun');
    try {
      const schedule = normalizeSchedule({ cron: '0 * * * * *', timeZone: 'Europe/Paris' });
      const restartMs = Date.parse('2026-06-01T08:00:30Z');
      nextRun.mockClear();
      // A restart: 10,000 tasks on this schedule ask for their first slot, a little later each.
      const firsts = new Set<number>();
      for (let i = 0; i < 10_000; i++) firsts.add(firstDueAt(schedule, restartMs + i));
      expect([...firsts]).toEqual([Date.parse('2026-06-01T08:01:00Z')]);
      expect(nextRun.mock.calls.length).toBe(1);
      // Each of them fires at that slot and, finishing a little later each, asks for the next.
      nextRun.mockClear();
      const slotMs = Date.parse('2026-06-01T08:01:00Z');
      const nexts = new Set<number>();
      for (let i = 0; i < 10_000; i++)
        nexts.add(nextDueAfter(schedule, { anchorMs: 0, lastDueMs: slotMs, nowMs: slotMs + i }));
      expect([...nexts]).toEqual([Date.parse('2026-06-01T08:02:00Z')]);
      expect(nextRun.mock.calls.length).toBe(1);
    } finally {
      nextRun.mockRestore();
    }
  });

  it('stays exact past its bound on remembered schedules (5,000 distinct, the first asked again last)', () => {
    const nowMs = Date.parse('2026-06-01T00:00:00Z');
    const timeOf = (i: number) => ({
      hour: Math.floor(i / 3600) % 24,
      minute: Math.floor(i / 60) % 60,
      second: i % 60,
    });
    const dueOf = (i: number) => {
      const { hour, minute, second } = timeOf(i);
      return Date.UTC(2026, 5, 1, hour, minute, second);
    };
    const order = [...Array.from({ length: 5_000 }, (_, i) => i * 17), 0, 17, 34];
    for (const i of order) {
      const schedule = normalizeSchedule({ time: timeOf(i), timeZone: 'UTC' });
      expect(firstDueAt(schedule, nowMs)).toBe(dueOf(i));
      expect(firstDueAt(schedule, dueOf(i) + 1)).toBe(dueOf(i) + 86_400_000);
    }
  });

  it('keeps separate slots for the same expression in another zone', () => {
    const paris = normalizeSchedule({ cron: '0 9 * * *', timeZone: 'Europe/Paris' });
    const tokyo = normalizeSchedule({ cron: '0 9 * * *', timeZone: 'Asia/Tokyo' });
    const nowMs = Date.parse('2026-06-01T00:00:00Z');
    expect(new Date(firstDueAt(paris, nowMs)).toISOString()).toBe('2026-06-01T07:00:00.000Z');
    expect(new Date(firstDueAt(tokyo, nowMs)).toISOString()).toBe('2026-06-01T00:00:00.000Z');
    expect(new Date(firstDueAt(paris, nowMs + 1)).toISOString()).toBe('2026-06-01T07:00:00.000Z');
  });

  it('refuses an instant that is not a number without remembering anything from it', () => {
    const schedule = normalizeSchedule({ cron: '*/5 * * * *', timeZone: 'America/New_York' });
    const nowMs = Date.parse('2026-06-01T12:01:00Z');
    expect(firstDueAt(schedule, nowMs)).toBe(Date.parse('2026-06-01T12:05:00Z'));
    expect(() => firstDueAt(schedule, Number.NaN)).toThrow(RangeError);
    expect(() => nextDueAfter(schedule, { anchorMs: 0, lastDueMs: nowMs, nowMs: Number.NaN })).toThrow(
      RangeError,
    );
    expect(() => firstDueAt(schedule, Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(firstDueAt(schedule, nowMs + 1)).toBe(Date.parse('2026-06-01T12:05:00Z'));
    expect(
      nextDueAfter(schedule, { anchorMs: 0, lastDueMs: Date.parse('2026-06-01T12:05:00Z'), nowMs }),
    ).toBe(Date.parse('2026-06-01T12:10:00Z'));
  });
});
