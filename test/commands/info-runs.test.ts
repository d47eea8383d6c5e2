// /task info's next runs: from the stored next run, as Discord timestamps, with each zoned run's UTC time
// and the UTC shift marked where the task's zone changes its clocks. The lines are pure (tested at fixed
// instants, no timers); the command is tested end to end through the emulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task, TaskSchedule } from '../../src/db/index.js';
import { upcomingRunLines, utcOffsetName } from '../../src/discord/upcoming-runs.js';
import { startTestBot, type TestBot } from './helpers.js';

const at = (iso: string) => Date.parse(iso);
const stamp = (iso: string) => at(iso) / 1000;

type Shown = Pick<Task, 'state' | 'nextRunAt' | 'schedule' | 'count' | 'currentLoop'>;
const running = (schedule: TaskSchedule, nextRunAt: number, extra: Partial<Shown> = {}): Shown => ({
  state: 'running',
  nextRunAt,
  schedule,
  count: null,
  currentLoop: 0,
  ...extra,
});

describe('upcoming run lines', () => {
  it('shows a daily task crossing the spring change with its UTC shift', () => {
    const daily: TaskSchedule = { kind: 'times', times: ['09:00'], timeZone: 'Europe/Paris' };
    // Europe/Paris moves to summer time on Sunday 28 March 2027.
    expect(upcomingRunLines(running(daily, at('2027-03-26T08:00:00Z')))).toEqual([
      'Next 5 runs, in your time:',
      `• <t:${stamp('2027-03-26T08:00:00Z')}:f> (<t:${stamp('2027-03-26T08:00:00Z')}:R>) · 08:00 UTC`,
      `• <t:${stamp('2027-03-27T08:00:00Z')}:f> · 08:00 UTC`,
      `• <t:${stamp('2027-03-28T07:00:00Z')}:f> · 07:00 UTC (clocks change in Europe/Paris: UTC+1 → UTC+2)`,
      `• <t:${stamp('2027-03-29T07:00:00Z')}:f> · 07:00 UTC`,
      `• <t:${stamp('2027-03-30T07:00:00Z')}:f> · 07:00 UTC`,
    ]);
  });

  it('marks the autumn change of a weekly task, and a run the spring gap moved', () => {
    // New York: back to standard time on Sunday 7 November 2027. Weekdays only (no Saturday, Sunday).
    const weekdays: TaskSchedule = {
      kind: 'times',
      times: ['09:00'],
      days: [1, 2, 3, 4, 5],
      timeZone: 'America/New_York',
    };
    const lines = upcomingRunLines(running(weekdays, at('2027-11-04T13:00:00Z')), 3);
    expect(lines.slice(1)).toEqual([
      `• <t:${stamp('2027-11-04T13:00:00Z')}:f> (<t:${stamp('2027-11-04T13:00:00Z')}:R>) · 13:00 UTC`,
      `• <t:${stamp('2027-11-05T13:00:00Z')}:f> · 13:00 UTC`,
      `• <t:${stamp('2027-11-08T14:00:00Z')}:f> · 14:00 UTC (clocks change in America/New_York: UTC-4 → UTC-5)`,
    ]);
    // 02:30 does not exist on 14 March 2027 in New York: that run is at 03:30 EDT (07:30 UTC).
    const night: TaskSchedule = { kind: 'times', times: ['02:30'], timeZone: 'America/New_York' };
    expect(upcomingRunLines(running(night, at('2027-03-13T07:30:00Z')), 2).slice(1)).toEqual([
      `• <t:${stamp('2027-03-13T07:30:00Z')}:f> (<t:${stamp('2027-03-13T07:30:00Z')}:R>) · 07:30 UTC`,
      `• <t:${stamp('2027-03-14T07:30:00Z')}:f> · 07:30 UTC (clocks change in America/New_York: UTC-5 → UTC-4)`,
    ]);
  });

  it('counts an interval from the stored next run, with no UTC times', () => {
    const every: TaskSchedule = { kind: 'interval', seconds: 5400 };
    const first = at('2026-12-01T13:07:13Z');
    expect(upcomingRunLines(running(every, first))).toEqual([
      'Next 5 runs, in your time:',
      `• <t:${first / 1000}:f> (<t:${first / 1000}:R>)`,
      ...[1, 2, 3, 4].map((n) => `• <t:${first / 1000 + n * 5400}:f>`),
    ]);
  });

  it('shows seconds when a run is off the minute, and a cron in its zone', () => {
    const cron: TaskSchedule = { kind: 'cron', cron: '30 0 9 * * 1', timeZone: 'Asia/Kolkata' };
    // Mondays 09:00:30 in Kolkata (UTC+5:30, no DST) are 03:30:30 UTC.
    const lines = upcomingRunLines(running(cron, at('2026-12-07T03:30:30Z')), 2);
    expect(lines).toEqual([
      'Next 2 runs, in your time:',
      `• <t:${stamp('2026-12-07T03:30:30Z')}:f> (<t:${stamp('2026-12-07T03:30:30Z')}:R>) · 03:30:30 UTC`,
      `• <t:${stamp('2026-12-14T03:30:30Z')}:f> · 03:30:30 UTC`,
    ]);
  });

  it('shows a one-off its one run', () => {
    const once: TaskSchedule = { kind: 'once', at: at('2026-12-24T17:00:00Z'), timeZone: 'Europe/Paris' };
    expect(upcomingRunLines(running(once, at('2026-12-24T17:00:00Z')))).toEqual([
      'Next run, in your time:',
      `• <t:${stamp('2026-12-24T17:00:00Z')}:f> (<t:${stamp('2026-12-24T17:00:00Z')}:R>) · 17:00 UTC`,
    ]);
  });

  it('shows no more runs than the count leaves', () => {
    const every: TaskSchedule = { kind: 'interval', seconds: 60 };
    const next = at('2026-12-01T13:00:00Z');
    expect(upcomingRunLines(running(every, next, { count: 10, currentLoop: 7 }))[0]).toBe(
      'Next 3 runs, in your time:',
    );
    expect(upcomingRunLines(running(every, next, { count: 10, currentLoop: 9 }))[0]).toBe(
      'Next run, in your time:',
    );
    expect(upcomingRunLines(running(every, next, { count: 10, currentLoop: 10 }))).toEqual([
      'Next runs: not scheduled (no run is due).',
    ]);
  });

  it('says "not scheduled" for a task that is not running, or has no next run stored', () => {
    const every: TaskSchedule = { kind: 'interval', seconds: 60 };
    for (const state of ['stopped', 'cancelled', 'failed', 'completed'] as const) {
      expect(upcomingRunLines({ ...running(every, at('2026-12-01T13:00:00Z')), state })).toEqual([
        `Next runs: not scheduled (it is ${state}).`,
      ]);
    }
    expect(upcomingRunLines({ ...running(every, 0), nextRunAt: null })).toEqual([
      'Next runs: not scheduled (no run is due).',
    ]);
  });

  it('says when a schedule has no run left after the stored one', () => {
    const once: TaskSchedule = { kind: 'once', at: at('2026-12-24T17:00:00Z'), timeZone: 'UTC' };
    // A stored next run past the one-off's instant (a clock that jumped): nothing at or after it.
    expect(upcomingRunLines(running(once, at('2026-12-25T00:00:00Z')))).toEqual([
      'Next runs: none; its schedule has no run left.',
    ]);
  });

  it('names UTC offsets as people read them', () => {
    const december = at('2026-12-01T12:00:00Z');
    expect(
      ['UTC', 'Europe/London', 'Europe/Paris', 'Asia/Kolkata', 'America/St_Johns', 'Etc/GMT+5'].map((zone) =>
        utcOffsetName(zone, december),
      ),
    ).toEqual(['UTC', 'UTC', 'UTC+1', 'UTC+5:30', 'UTC-3:30', 'UTC-5']);
  });
});

describe('/task info next runs, end to end', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot();
  });
  afterAll(async () => {
    await t?.close();
  });

  const runLines = (info: string) => info.split('\n').filter((line) => /^• <t:\d+:f>/.test(line));
  const stamps = (lines: string[]) => lines.map((line) => Number(/<t:(\d+):f>/.exec(line)![1]));

  it("lists a daily task's next 5 runs from its stored next run, a day apart", async () => {
    const general = t.a.channels.general!;
    await t.run('create reminder', {
      name: 'daily',
      channel: general,
      at: '09:00',
      timezone: 'UTC',
      message: 'hi',
    });
    const info = await t.run('info', { name: 'daily' });
    expect(info).toContain('Next 5 runs, in your time:');
    const lines = runLines(info);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^• <t:\d+:f> \(<t:\d+:R>\) · 09:00 UTC$/);
    expect(lines.slice(1).every((line) => /^• <t:\d+:f> · 09:00 UTC$/.test(line))).toBe(true);
    const { nextRunAt } = t.bot.runtime.info(t.a.id, 'daily').task;
    expect(stamps(lines)).toEqual([0, 1, 2, 3, 4].map((n) => nextRunAt! / 1000 + n * 86_400));
  });

  it('marks the UTC shifts of a task whose runs cross clock changes', async () => {
    // Sundays of March at 09:00 in Paris: five in a row either cross from one March into the next (summer
    // time back to winter) or reach a last Sunday of March (winter to summer), so a shift shows on any date.
    await t.run('create reminder', {
      name: 'march',
      channel: t.a.channels.general!,
      cron: '0 9 * 3 0',
      timezone: 'Europe/Paris',
      message: 'hi',
    });
    const lines = runLines(await t.run('info', { name: 'march' }));
    expect(lines).toHaveLength(5);
    const shifts = lines.filter((line) => line.includes('clocks change'));
    expect(shifts.length).toBeGreaterThan(0);
    for (const line of shifts) {
      expect(line).toMatch(
        /· (07:00 UTC \(clocks change in Europe\/Paris: UTC\+1 → UTC\+2\)|08:00 UTC \(clocks change in Europe\/Paris: UTC\+2 → UTC\+1\))$/,
      );
    }
    for (const line of lines) expect(line).toMatch(/ · 0[78]:00 UTC/);
  });

  it('shows no more runs than the count leaves, and "not scheduled" once stopped', async () => {
    const general = t.a.channels.general!;
    await t.run('create reminder', {
      name: 'twice',
      channel: general,
      at: '09:00',
      timezone: 'UTC',
      count: 2,
      message: 'hi',
    });
    const info = await t.run('info', { name: 'twice' });
    expect(info).toContain('Next 2 runs, in your time:');
    expect(runLines(info)).toHaveLength(2);
    await t.run('stop', { name: 'twice' });
    const stopped = await t.run('info', { name: 'twice' });
    expect(stopped).toContain('Next runs: not scheduled (it is stopped).');
    expect(runLines(stopped)).toEqual([]);
  });

  it('shows a one-off its one run', async () => {
    await t.run('create reminder', {
      name: 'party',
      channel: t.a.channels.general!,
      at: '2030-12-24 18:00',
      timezone: 'Europe/Paris',
      message: 'hi',
    });
    const info = await t.run('info', { name: 'party' });
    expect(info).toContain('Next run, in your time:');
    expect(runLines(info)).toEqual([
      `• <t:${stamp('2030-12-24T17:00:00Z')}:f> (<t:${stamp('2030-12-24T17:00:00Z')}:R>) · 17:00 UTC`,
    ]);
  });

  it('still refuses a task that does not exist', async () => {
    expect(await t.run('info', { name: 'nope' })).toMatch(/no task named "nope"/);
  });
});
