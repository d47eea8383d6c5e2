// The one schedule gate (checkSchedule) and the runs a schedule will make (upcomingRuns): pure, no timers.
import { describe, expect, it } from 'vitest';
import { checkSchedule, type TaskSchedule, upcomingRuns } from '../../src/tasks/index.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0); // Tue 1 Dec 2026 12:00 UTC
const iso = (ms: number) => new Date(ms).toISOString();

describe('checkSchedule, the gate the runtime and the surface share', () => {
  it('accepts the four kinds', () => {
    const accepted: TaskSchedule[] = [
      { kind: 'interval', seconds: 10 },
      { kind: 'times', times: ['09:00'], timeZone: 'Europe/Paris' },
      { kind: 'times', times: ['09:00', '18:30'], days: [1, 3, 5], timeZone: 'UTC' },
      { kind: 'cron', cron: '0 9 * * 1', timeZone: 'UTC' },
      { kind: 'once', at: NOW + 60_000, timeZone: 'Europe/Paris' },
    ];
    for (const schedule of accepted) expect(checkSchedule(schedule, NOW)).toEqual(schedule);
  });

  it.each([
    [{ kind: 'interval', seconds: 1 }, /at most every 10 seconds/],
    [{ kind: 'interval', seconds: 0.001 }, /at most every 10 seconds/],
    [{ kind: 'interval', seconds: 400 * 86_400 }, /at most a year/],
    [{ kind: 'cron', cron: '* * * * * *', timeZone: 'UTC' }, /more often than every 10 seconds/],
    [{ kind: 'cron', cron: '*/5 * * * * *', timeZone: 'UTC' }, /more often than every 10 seconds/],
    [{ kind: 'once', at: NOW, timeZone: 'UTC' }, /already passed/],
    [{ kind: 'once', at: NOW - 86_400_000, timeZone: 'UTC' }, /already passed/],
    [{ kind: 'once', at: Number.NaN, timeZone: 'UTC' }, /^That schedule is not valid/],
    [{ kind: 'once', at: NOW + 1, timeZone: 'Mars/Olympus' }, /unknown time zone/],
    [{ kind: 'times', times: ['09:00'], days: [0], timeZone: 'UTC' }, /^That schedule is not valid/],
    [{ kind: 'times', times: ['09:00'], days: [], timeZone: 'UTC' }, /^That schedule is not valid/],
    [{ kind: 'times', times: [], timeZone: 'UTC' }, /^That schedule is not valid/],
    [{ kind: 'times', times: ['25:00'], timeZone: 'UTC' }, /^That schedule is not valid/],
    [{ kind: 'cron', cron: 'not a cron', timeZone: 'UTC' }, /^That schedule is not valid/],
    [{ kind: 'cron', cron: '0 0 30 2 *', timeZone: 'UTC' }, /never runs/],
    [{ kind: 'weekly' }, /^That schedule is not valid/],
    [null, /^That schedule is not valid/],
  ])('refuses %j with a sentence', (input, message) => {
    expect(() => checkSchedule(input, NOW)).toThrow(
      expect.objectContaining({ code: 'invalid_schedule', message: expect.stringMatching(message) }),
    );
  });
});

describe('upcomingRuns', () => {
  it('counts an interval from the given instant', () => {
    expect(upcomingRuns({ kind: 'interval', seconds: 60 }, NOW, 3)).toEqual([
      NOW,
      NOW + 60_000,
      NOW + 120_000,
    ]);
  });

  it('keeps a daily wall time across a DST change, so the UTC time shifts', () => {
    const runs = upcomingRuns(
      { kind: 'times', times: ['09:00'], timeZone: 'Europe/Paris' },
      Date.UTC(2027, 2, 26),
      4,
    );
    expect(runs.map(iso)).toEqual([
      '2027-03-26T08:00:00.000Z',
      '2027-03-27T08:00:00.000Z',
      '2027-03-28T07:00:00.000Z', // summer time from that night
      '2027-03-29T07:00:00.000Z',
    ]);
  });

  it('lists weekly runs on their weekdays only', () => {
    const runs = upcomingRuns({ kind: 'times', times: ['18:30'], days: [1, 5], timeZone: 'UTC' }, NOW, 3);
    expect(runs.map(iso)).toEqual([
      '2026-12-04T18:30:00.000Z', // Friday
      '2026-12-07T18:30:00.000Z', // Monday
      '2026-12-11T18:30:00.000Z',
    ]);
  });

  it('gives a one-off its one run, and none once it is past', () => {
    const once: TaskSchedule = { kind: 'once', at: NOW + 5_000, timeZone: 'UTC' };
    expect(upcomingRuns(once, NOW, 5)).toEqual([NOW + 5_000]);
    expect(upcomingRuns(once, NOW + 6_000, 5)).toEqual([]);
  });

  it('follows a cron', () => {
    const runs = upcomingRuns({ kind: 'cron', cron: '0 9 * * 1', timeZone: 'UTC' }, NOW, 2);
    expect(runs.map(iso)).toEqual(['2026-12-07T09:00:00.000Z', '2026-12-14T09:00:00.000Z']);
  });
});
