// What admins type into `at` / `every` / `cron` / `timezone`, read at a fixed instant in several zones.
import { describe, expect, it } from 'vitest';
import type { TaskSchedule } from '../../src/db/index.js';
import { parseAt, parseEvery, scheduleFromOptions, scheduleText } from '../../src/discord/schedule-input.js';
import { schedulePreviewChoices } from '../../src/discord/schedule-preview.js';
import { error, value } from '../support/parsed.js';

/** Tuesday 1 December 2026, 13:05 UTC (14:05 in Paris, 08:05 in New York, 02:05 on the 2nd in Auckland). */
const NOW = Date.UTC(2026, 11, 1, 13, 5);
const utc = (iso: string) => Date.parse(`${iso}Z`);

describe('at: daily times', () => {
  it.each([
    ['09:00', ['09:00']],
    ['09:00, 18:30', ['09:00', '18:30']],
    ['18:30, 9:00,09:00', ['09:00', '18:30']],
    ['9am', ['09:00']],
    ['9 am', ['09:00']],
    ['9 a.m.', ['09:00']],
    ['6:30pm', ['18:30']],
    ['12am, 12pm', ['00:00', '12:00']],
    ['noon and midnight', ['00:00', '12:00']],
    ['23:59:30', ['23:59:30']],
    ['9am 6pm', ['09:00', '18:00']],
  ])('%s is daily at %j', (input, times) => {
    expect(value(parseAt(input, 'Europe/Paris', NOW))).toEqual({
      kind: 'times',
      times,
      timeZone: 'Europe/Paris',
    });
  });

  it('a time already past today is still daily, with no day stored', () => {
    // 9am in Paris has passed at 14:05; the schedule is the same, its next run is tomorrow.
    expect(value(parseAt('9am', 'Europe/Paris', NOW))).toEqual({
      kind: 'times',
      times: ['09:00'],
      timeZone: 'Europe/Paris',
    });
  });

  it.each(['24:00', '25:00', '12:60', '13pm', '0am', '9:5'])('refuses %j as not a time of day', (input) => {
    expect(error(parseAt(input, 'UTC', NOW))).toMatch(/is not a time of day: write it like 09:00/);
  });
});

describe('at: weekdays with times', () => {
  it.each([
    ['mon,wed,fri 09:00', [1, 3, 5], ['09:00']],
    ['weekdays 18:30', [1, 2, 3, 4, 5], ['18:30']],
    ['weekends 10:00', [6, 7], ['10:00']],
    ['sundays 10:00', [7], ['10:00']],
    ['monday 9am', [1], ['09:00']],
    ['Mon, Thu 9am, 6pm', [1, 4], ['09:00', '18:00']],
    ['every monday at 9am', [1], ['09:00']],
    ['5pm on fridays', [5], ['17:00']],
    ['mon-fri 9am', [1, 2, 3, 4, 5], ['09:00']],
    ['fri-mon 10:00', [1, 5, 6, 7], ['10:00']],
    ['tues & thurs 07:15', [2, 4], ['07:15']],
  ])('%s is weekly on %j at %j', (input, days, times) => {
    expect(value(parseAt(input, 'America/New_York', NOW))).toEqual({
      kind: 'times',
      times,
      days,
      timeZone: 'America/New_York',
    });
  });

  it('all seven days is daily', () => {
    expect(value(parseAt('weekdays, weekends 09:00', 'UTC', NOW))).toEqual({
      kind: 'times',
      times: ['09:00'],
      timeZone: 'UTC',
    });
  });

  it.each(['constructor 9am', '__proto__ 9am', 'toString-valueOf 9am', 'hasOwnProperty'])(
    'reads %j as words, not as members of Object.prototype',
    (input) => {
      expect(error(parseAt(input, 'UTC', NOW))).toMatch(/^I (can't read|understood)/);
    },
  );

  it('refuses days without a time, with an example', () => {
    expect(error(parseAt('mondays', 'UTC', NOW))).toBe('Say at what time too, like "mondays 09:00".');
  });
});

describe('at: one date and time (a one-off)', () => {
  it.each([
    ['2026-12-24 18:00', utc('2026-12-24T17:00')],
    ['24 Dec 18:00', utc('2026-12-24T17:00')],
    ['Dec 24 6pm', utc('2026-12-24T17:00')],
    ['2026/12/24 18:00', utc('2026-12-24T17:00')],
    ['tomorrow 9am', utc('2026-12-02T08:00')],
    ['tomorrow at 9am', utc('2026-12-02T08:00')],
    ['9am tomorrow', utc('2026-12-02T08:00')],
    ['next monday 09:00', utc('2026-12-07T08:00')],
    ['in 2 hours', NOW + 2 * 3_600_000],
    ['in 90 minutes', NOW + 90 * 60_000],
    ['in 2 days', NOW + 2 * 86_400_000],
    ['today 6pm', utc('2026-12-01T17:00')],
  ])('%s in Paris is %i', (input, at) => {
    expect(value(parseAt(input, 'Europe/Paris', NOW))).toEqual({
      kind: 'once',
      at,
      timeZone: 'Europe/Paris',
    });
  });

  it('a date with no year already past this year is next year', () => {
    const christmasEvening = Date.UTC(2026, 11, 25, 20);
    expect(value(parseAt('24 Dec 18:00', 'UTC', christmasEvening))).toEqual({
      kind: 'once',
      at: utc('2027-12-24T18:00'),
      timeZone: 'UTC',
    });
  });

  it('"tomorrow" is tomorrow in the task zone, not in UTC', () => {
    // 13:05 UTC is already 02:05 on Wednesday the 2nd in Auckland (NZDT, UTC+13).
    expect(value(parseAt('tomorrow 9am', 'Pacific/Auckland', NOW))).toEqual({
      kind: 'once',
      at: utc('2026-12-02T20:00'),
      timeZone: 'Pacific/Auckland',
    });
  });

  it('reads a date after a DST change at that date’s offset (New York, March 2027)', () => {
    const beforeChange = Date.UTC(2027, 2, 10, 12); // EST, UTC-5
    expect(value(parseAt('2027-03-15 09:00', 'America/New_York', beforeChange))).toMatchObject({
      at: utc('2027-03-15T13:00'), // EDT, UTC-4
    });
    // 02:30 does not exist that night: shifted forward by the gap, as daily times are.
    expect(value(parseAt('2027-03-14 02:30', 'America/New_York', beforeChange))).toMatchObject({
      at: utc('2027-03-14T07:30'),
    });
    // A repeated time (November) is its first occurrence, still EDT.
    expect(value(parseAt('2027-11-07 01:30', 'America/New_York', beforeChange))).toMatchObject({
      at: utc('2027-11-07T05:30'),
    });
  });

  it('honours an offset or abbreviation typed with the date, and refuses an offset chrono would skip', () => {
    expect(value(parseAt('2026-12-24 18:00 EST', 'Europe/Paris', NOW))).toEqual({
      kind: 'once',
      at: utc('2026-12-24T23:00'),
      timeZone: 'Europe/Paris',
    });
    expect(value(parseAt('2026-12-24 18:00 -0500', 'UTC', NOW))).toMatchObject({
      at: utc('2026-12-24T23:00'),
    });
    expect(error(parseAt('2026-12-24 18:00 -05:00', 'UTC', NOW))).toBe(
      'Write the UTC offset without a colon (like -0500), or leave it out and use `timezone`.',
    );
  });

  it('the second pass of a repeated hour reads back, with its offset in the canonical text', () => {
    // 05:30 UTC on 1 Nov 2026 is 01:30 EDT; an hour later it is 01:30 again, EST.
    const beforeFallBack = Date.UTC(2026, 10, 1, 5, 30);
    const schedule = value(parseAt('in 1 hour', 'America/New_York', beforeFallBack));
    expect(schedule).toMatchObject({ at: utc('2026-11-01T06:30') });
    expect(scheduleText(schedule).text).toBe('2026-11-01 01:30 -0500');
    expect(value(parseAt('2026-11-01 01:30 -0500', 'America/New_York', beforeFallBack))).toEqual(schedule);
    expect(
      scheduleText(value(parseAt('2026-11-01 01:30', 'America/New_York', NOW - 40 * 86_400_000))).text,
    ).toBe('2026-11-01 01:30');
  });

  it('"in 2 hours" across a DST change is two real hours', () => {
    const justBeforeChange = Date.UTC(2027, 2, 14, 6, 30); // 01:30 EST; clocks jump to 03:00 at 07:00 UTC
    expect(value(parseAt('in 2 hours', 'America/New_York', justBeforeChange))).toMatchObject({
      at: justBeforeChange + 2 * 3_600_000,
    });
  });

  it('Auckland in April 2027: the date after NZDT ends reads at NZST', () => {
    expect(value(parseAt('2027-04-10 09:00', 'Pacific/Auckland', NOW))).toMatchObject({
      at: utc('2027-04-09T21:00'),
    });
  });

  it.each([
    ['2020-01-01 10:00', /is in the past \(2020-01-01 10:00\): give a future date and time/],
    ['today 9am', /is in the past \(2026-12-01 09:00\)/],
    ['2032-01-01 10:00', /more than 5 years away/],
  ])('refuses %s', (input, why) => {
    expect(error(parseAt(input, 'Europe/Paris', NOW))).toMatch(why);
  });

  it.each(['12/01', '01/12/2026', '1.2.2026', '12-01-2026', '12.01', 'on 3/4 at 9am'])(
    'refuses the numeric day/month %j, asking for ISO or a month name',
    (input) => {
      expect(error(parseAt(input, 'UTC', NOW))).toMatch(
        /could be day\/month or month\/day: write the date like 2026-12-01 or 1 Dec\.$/,
      );
    },
  );

  it.each([
    ['tomorrow at 9am please', 'I understood "tomorrow at 9am" but not "please"'],
    ['9am and pizza', 'I understood "9am" but not "and pizza"'],
    ['remind me tomorrow 9am', 'I understood "tomorrow 9am" but not "remind me"'],
  ])('refuses %j rather than half-understand it', (input, start) => {
    expect(error(parseAt(input, 'UTC', NOW))).toMatch(new RegExp(`^${start}: write only the time`));
  });

  it.each(['tomorrow', '24 Dec', 'next monday'])('refuses %j: a date needs a time', (input) => {
    expect(error(parseAt(input, 'UTC', NOW))).toMatch(/^Say what time on that day too, like ".* 18:00"\.$/);
  });

  it.each(['15m', '1h30m', '2d'])('refuses the bare duration %j, pointing to every: or "in"', (input) => {
    expect(error(parseAt(input, 'UTC', NOW))).toBe(
      `"${input}" is a duration: for a repeating task use every:, for a one-off write "in ${input}".`,
    );
  });

  it('refuses two dates in one', () => {
    expect(error(parseAt('tomorrow 9am, friday 5pm', 'UTC', NOW))).toMatch(/one date and time per task/);
  });

  it.each(['', '   ', 'soon', 'feb 30 10:00', '😀', '⏰⏰⏰', '9', 'x'.repeat(100)])(
    'refuses %j with examples',
    (input) => {
      const sentence = error(parseAt(input, 'UTC', NOW));
      expect(sentence).toMatch(/like 09:00, mon,wed 9am, 2026-12-24 18:00, tomorrow 9am or in 2 hours\.$/);
      expect(sentence.length).toBeLessThan(200);
    },
  );

  it('refuses text longer than the option allows without reading it', () => {
    expect(error(parseAt(`tomorrow 9am ${'x'.repeat(1000)}`, 'UTC', NOW))).toBe(
      'That is too long for `at` (at most 100 characters).',
    );
  });
});

describe('every', () => {
  it.each([
    ['90s', 90],
    ['15m', 900],
    ['1h30m', 5400],
    ['2d', 172_800],
    [' 1H 5M ', 3900],
  ])('%s is %i seconds', (input, seconds) => {
    expect(value(parseEvery(input))).toBe(seconds);
  });

  it('refuses less than 10 seconds with the minimum named', () => {
    expect(error(parseEvery('5s'))).toBe('Tasks can run at most every 10 seconds; "5s" is too short.');
  });

  it('refuses more than a year', () => {
    expect(error(parseEvery('400d'))).toMatch(/longer than a year/);
  });

  it.each(['in 2 hours', 'tomorrow', 'next monday 9am', 'in 90 minutes'])(
    'points %j to at: as a one-off',
    (input) => {
      expect(error(parseEvery(input))).toMatch(/is not a duration: for a one-off time, use at: instead/);
    },
  );

  it.each(['09:00', '9am', '09:00, 18:30'])('points %j to at: as a time of day', (input) => {
    expect(error(parseEvery(input))).toMatch(/is a time of day, not a duration: for a time of day, use at:/);
  });

  it.each(['', 'soon', '10', '-5m', '1.5h', '30m1h', '😀', 'x'.repeat(1000)])(
    'refuses %j as not a duration',
    (input) => {
      const sentence = error(parseEvery(input));
      expect(sentence).toMatch(/not a duration: write it like 90s, 15m, 1h30m or 2d\.$/);
      expect(sentence.length).toBeLessThan(120);
    },
  );
});

describe('scheduleFromOptions', () => {
  it('uses the server default zone when none is given, and the option over it', () => {
    expect(value(scheduleFromOptions({ at: '09:00' }, { nowMs: NOW }))).toMatchObject({ timeZone: 'UTC' });
    expect(
      value(scheduleFromOptions({ at: '09:00' }, { nowMs: NOW, defaultTimeZone: 'Europe/Paris' })),
    ).toMatchObject({ timeZone: 'Europe/Paris' });
    expect(
      value(
        scheduleFromOptions(
          { at: '2026-12-24 18:00', timezone: 'america/new_york' },
          { nowMs: NOW, defaultTimeZone: 'Europe/Paris' },
        ),
      ),
    ).toEqual({ kind: 'once', at: utc('2026-12-24T23:00'), timeZone: 'America/New_York' });
  });

  it('refuses a too-frequent cron, keeps a fine one, and refuses an over-long one', () => {
    expect(error(scheduleFromOptions({ cron: '*/2 * * * * *' }, { nowMs: NOW }))).toBe(
      '`*/2 * * * * *` runs more often than every 10 seconds, the most often a task may run.',
    );
    expect(
      value(scheduleFromOptions({ cron: ' 0  9 * * 1 ' }, { nowMs: NOW, defaultTimeZone: 'Asia/Tokyo' })),
    ).toEqual({
      kind: 'cron',
      cron: '0 9 * * 1',
      timeZone: 'Asia/Tokyo',
    });
    expect(error(scheduleFromOptions({ cron: `0 ${'1,'.repeat(60)}2 * * *` }, { nowMs: NOW }))).toMatch(
      /too long for `cron`/,
    );
  });

  it('refuses a zone with every, and more than one schedule', () => {
    expect(error(scheduleFromOptions({ every: '1h', timezone: 'UTC' }, { nowMs: NOW }))).toMatch(
      /only applies to `at` and `cron`/,
    );
    expect(error(scheduleFromOptions({ every: '1h', at: '09:00' }, { nowMs: NOW }))).toBe(
      'Give only one of `every`, `at` or `cron`, not `every` and `at`.',
    );
  });

  it('/task interval with a zone alone keeps the wall-clock date of a one-off, in the new zone', () => {
    const current: TaskSchedule = { kind: 'once', at: utc('2026-12-24T17:00'), timeZone: 'Europe/Paris' };
    expect(value(scheduleFromOptions({ timezone: 'America/New_York' }, { nowMs: NOW, current }))).toEqual({
      kind: 'once',
      at: utc('2026-12-24T23:00'),
      timeZone: 'America/New_York',
    });
  });

  it('/task interval with at alone keeps the task zone', () => {
    const current: TaskSchedule = { kind: 'times', times: ['09:00'], timeZone: 'Pacific/Auckland' };
    expect(value(scheduleFromOptions({ at: 'weekdays 9am' }, { nowMs: NOW, current }))).toEqual({
      kind: 'times',
      times: ['09:00'],
      days: [1, 2, 3, 4, 5],
      timeZone: 'Pacific/Auckland',
    });
  });
});

describe('canonical text reads back as the same schedule', () => {
  const zones = ['UTC', 'Europe/Paris', 'America/New_York', 'Pacific/Auckland'];
  const inputs = [
    '09:00, 18:30',
    '9am',
    '23:59:30',
    'mon,wed,fri 09:00',
    'weekdays 18:30',
    'weekends 10:00',
    'fri-mon 6pm',
    '2026-12-24 18:00',
    'tomorrow 9am',
    'next monday 09:00',
    'in 2 hours',
    'in 90 minutes',
    '2027-03-14 02:30',
  ];
  for (const zone of zones) {
    it.each(inputs)(`%s in ${zone}`, (input) => {
      const schedule = value(scheduleFromOptions({ at: input, timezone: zone }, { nowMs: NOW }));
      const { option, text } = scheduleText(schedule);
      expect(option).toBe('at');
      expect(text.length).toBeLessThanOrEqual(100);
      expect(value(scheduleFromOptions({ at: text, timezone: zone }, { nowMs: NOW }))).toEqual(schedule);
    });
  }

  it.each(['90s', '15m', '1h30m', '2d', '1d2h3m4s'])('every %s', (input) => {
    const schedule = value(scheduleFromOptions({ every: input }, { nowMs: NOW }));
    expect(scheduleText(schedule).option).toBe('every');
    expect(value(scheduleFromOptions({ every: scheduleText(schedule).text }, { nowMs: NOW }))).toEqual(
      schedule,
    );
  });

  it('canonical forms look as documented', () => {
    const text = (at: string, zone = 'UTC') =>
      scheduleText(value(scheduleFromOptions({ at, timezone: zone }, { nowMs: NOW }))).text;
    expect(text('Dec 24 6pm')).toBe('2026-12-24 18:00');
    expect(text('Mon, Wed, Fri 9am')).toBe('mon,wed,fri 09:00');
    expect(text('mon-fri 18:30')).toBe('weekdays 18:30');
    expect(text('6:30pm, 9am')).toBe('09:00, 18:30');
    expect(scheduleText({ kind: 'interval', seconds: 900 }).text).toBe('15m');
  });
});

describe('the autocomplete preview, at a fixed instant', () => {
  const context = { nowMs: NOW };
  const names = (option: 'at' | 'every' | 'cron', typed: string, timezone?: string) =>
    schedulePreviewChoices(option, typed, { ...context, timezone: timezone ?? null }).map((c) => c.name);

  it('reads as documented for each kind', () => {
    expect(names('at', '2026-12-24 18:00', 'Europe/Paris')).toEqual([
      'once · Thu 24 Dec 2026 18:00 CET · in 23 days',
    ]);
    expect(names('at', '9am', 'Europe/Paris')).toEqual([
      'daily 09:00 Europe/Paris · next Wed 2 Dec 09:00 (in 19 h)',
      'or once · Wed 2 Dec 2026 09:00 CET · in 19 h',
    ]);
    expect(names('at', 'mon,wed,fri 09:00')[0]).toBe(
      'weekly Mon, Wed, Fri 09:00 UTC · next Wed 2 Dec 09:00 (in 20 h)',
    );
    expect(names('at', 'weekdays 18:30', 'America/New_York')[0]).toBe(
      'weekly on weekdays 18:30 America/New_York · next Tue 1 Dec 18:30 (in 10 h)',
    );
    expect(names('at', 'in 90 minutes', 'Pacific/Auckland')).toEqual([
      'once · Wed 2 Dec 2026 03:35 Pacific/Auckland · in 90 min',
    ]);
    expect(names('every', '15m')).toEqual(['every 15m · first run at creation, then every 15 minutes']);
    expect(names('cron', '0 9 * * 1')).toEqual(['cron 0 9 * * 1 UTC · next Mon 7 Dec 09:00 (in 6 days)']);
  });

  it("/task interval shows the task's schedule first, even a one-off already passed", () => {
    const current = { kind: 'once' as const, at: NOW - 3_600_000, timeZone: 'UTC' };
    expect(schedulePreviewChoices('at', '', { ...context, current })[0]).toEqual({
      name: 'now: once · Tue 1 Dec 2026 12:05 UTC · passed',
      value: '2026-12-01 12:05',
    });
    // A current schedule of another option is not offered here.
    expect(schedulePreviewChoices('cron', '', { ...context, current })[0]!.name).toMatch(
      /^cron 0 9 \* \* 1 UTC/,
    );
  });

  it('a zone with no letters abbreviation shows its name', () => {
    expect(names('at', '2026-12-24 18:00', 'Asia/Kolkata')[0]).toMatch(
      /^once · Thu 24 Dec 2026 18:00 (IST|Asia\/Kolkata) · /,
    );
    expect(names('at', '2026-12-24 18:00', 'America/Sao_Paulo')[0]).toBe(
      'once · Thu 24 Dec 2026 18:00 America/Sao_Paulo · in 23 days',
    );
  });

  it('a choice too long to carry its canonical text carries what was typed, which reads back the same', () => {
    const typed = '1am,2am,3am,4am,5am,6am,7am,8am,9am,10am,11am,1pm,2pm,3pm,4pm,5pm,6pm,7pm';
    const [choice] = schedulePreviewChoices('at', typed, context);
    expect(choice!.name).toMatch(/^daily 01:00, 02:00, 03:00 \+15 more UTC · next /);
    expect(choice!.value).toBe(typed);
    expect(scheduleText(value(scheduleFromOptions({ at: typed }, context))).text.length).toBeGreaterThan(100);
  });

  it('every choice stays within Discord’s limits, whatever is typed', () => {
    const inputs = ['', 'x'.repeat(100), '😀'.repeat(50), 'tomorrow at 9am please', '0 9 * * 1', '15m', ' '];
    for (const option of ['at', 'every', 'cron'] as const) {
      for (const typed of inputs) {
        const choices = schedulePreviewChoices(option, typed, { ...context, timezone: 'Pacific/Auckland' });
        expect(choices.length).toBeGreaterThan(0);
        expect(choices.length).toBeLessThanOrEqual(25);
        for (const { name, value: choiceValue } of choices) {
          expect(name.length).toBeGreaterThan(0);
          expect(name.length).toBeLessThanOrEqual(100);
          expect(choiceValue.length).toBeGreaterThan(0);
          expect(choiceValue.length).toBeLessThanOrEqual(100);
        }
      }
    }
  });

  it('examples and previews read back as the schedule they show', () => {
    for (const option of ['at', 'every', 'cron'] as const) {
      for (const choice of schedulePreviewChoices(option, '', { ...context, timezone: 'Europe/Paris' })) {
        expect(
          value(
            scheduleFromOptions(
              { [option]: choice.value, timezone: option === 'every' ? null : 'Europe/Paris' },
              context,
            ),
          ),
        ).toBeDefined();
      }
    }
  });
});
