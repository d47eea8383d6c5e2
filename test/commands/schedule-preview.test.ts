// The live preview of `at` / `every` / `cron` in autocomplete, and one-off tasks, end to end through the
// emulator with the real discord.js client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OptionValue } from '../../emulator/index.js';
import { startTestBot, type TestBot } from './helpers.js';

let t: TestBot;
let general: string;

beforeAll(async () => {
  t = await startTestBot();
  general = t.a.channels.general!;
});
afterAll(() => t.close());

/** What autocomplete offers for `focused` while `value` is typed, the other options already filled. */
function preview(
  focused: 'at' | 'every' | 'cron',
  value: string,
  options: Record<string, OptionValue> = {},
  where: { group?: string; subcommand: string } = { group: 'create', subcommand: 'reminder' },
) {
  return t.emulator.invokeAutocomplete({
    command: 'task',
    ...where,
    user: t.a.admin,
    guild: t.a.id,
    channel: general,
    options,
    focused,
    value,
  });
}

/** Discord's limits on choices: at most 25, names and values of 1 to 100 characters. */
function expectWithinLimits(choices: { name: string; value: string | number }[]): void {
  expect(choices.length).toBeGreaterThan(0);
  expect(choices.length).toBeLessThanOrEqual(25);
  for (const choice of choices) {
    expect(choice.name.length).toBeGreaterThan(0);
    expect(choice.name.length).toBeLessThanOrEqual(100);
    expect(String(choice.value).length).toBeGreaterThan(0);
    expect(String(choice.value).length).toBeLessThanOrEqual(100);
  }
}

/** `YYYY-MM-DD HH:MM` on the wall clock of `timeZone`, `days` from now. */
function dateIn(days: number, timeZone: string, hour = '18:00'): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(Date.now() + days * 86_400_000);
  return `${parts} ${hour}`;
}

describe('at', () => {
  it('offers examples when nothing is typed yet, each a canonical text', async () => {
    const choices = await preview('at', '');
    expectWithinLimits(choices);
    expect(choices.map((c) => c.value)).toEqual(
      expect.arrayContaining(['09:00', '09:00, 18:30', 'weekdays 18:30', 'mon,wed,fri 09:00']),
    );
    expect(choices.find((c) => c.value === '09:00')?.name).toMatch(
      /^daily 09:00 UTC · next \w{3} \d+ \w{3} 09:00 \(in /,
    );
    // "tomorrow 9am" is offered as the date it stands for, so picking it pins that date.
    expect(choices.some((c) => /^\d{4}-\d{2}-\d{2} 09:00$/.test(String(c.value)))).toBe(true);
  });

  it('previews weekdays in the zone typed into timezone, with the next run, and offers it once too', async () => {
    const choices = await preview('at', 'Mon, Wed, Fri 9am', { timezone: 'Europe/Paris' });
    expectWithinLimits(choices);
    expect(choices[0]!.name).toMatch(
      /^weekly Mon, Wed, Fri 09:00 Europe\/Paris · next (Mon|Wed|Fri) \d+ \w{3} 09:00 \(in /,
    );
    expect(choices[0]!.value).toBe('mon,wed,fri 09:00');
    expect(choices[1]!.name).toMatch(/^or once · (Mon|Wed|Fri) \d+ \w{3} \d{4} 09:00 CES?T · in /);
    expect(choices[1]!.value).toMatch(/^\d{4}-\d{2}-\d{2} 09:00$/);
  });

  it('previews a one-off date with its zone abbreviation and how far off it is', async () => {
    const date = dateIn(10, 'America/New_York');
    const choices = await preview('at', date, { timezone: 'America/New_York' });
    expectWithinLimits(choices);
    expect(choices).toHaveLength(1);
    expect(choices[0]!.name).toMatch(/^once · \w{3} \d+ \w{3} \d{4} 18:00 E[SD]T · in (9|10) days$/);
    expect(choices[0]!.value).toBe(date);
  });

  it('ignores a timezone still being typed, and uses the server default zone, as create does', async () => {
    const choices = await preview('at', '09:00', { timezone: 'Europe/Par' });
    expect(choices[0]!.name).toMatch(/^daily 09:00 UTC · /);
    await t.run('settings', { timezone: 'Asia/Tokyo' });
    try {
      const inTokyo = await preview('at', '09:00');
      expect(inTokyo[0]!.name).toMatch(/^daily 09:00 Asia\/Tokyo · /);
      const created = await t.run('create reminder', {
        name: 'tokyo',
        channel: general,
        at: String(inTokyo[0]!.value),
        message: 'x',
      });
      expect(created).toContain('Asia/Tokyo');
    } finally {
      await t.run('settings', { timezone: 'UTC' });
    }
  });

  it.each([
    ['tomorrow at 9am please', /^⚠ I understood "tomorrow at 9am" but not "please"/],
    [
      '12/01 10:00',
      /^⚠ "12\/01" could be day\/month or month\/day: write the date like 2026-12-01 or 1 Dec\.$/,
    ],
    ['2020-01-01 10:00', /^⚠ "2020-01-01 10:00" is in the past/],
    ['25:00', /^⚠ "25:00" is not a time of day/],
    ['😀', /^⚠ I can't read "😀" as a time/],
    ['x'.repeat(100), /^⚠ I can't read "x+…" as a time/],
  ])('shows one choice saying why %j cannot be read, valued as typed', async (typed, why) => {
    const choices = await preview('at', typed);
    expectWithinLimits(choices);
    expect(choices).toHaveLength(1);
    expect(choices[0]!.name).toMatch(why);
    expect(choices[0]!.value).toBe(typed);
  });
});

describe('every and cron', () => {
  it('previews a duration', async () => {
    const choices = await preview('every', '1h30m');
    expect(choices).toEqual([
      { name: 'every 1h30m · first run at creation, then every 1 hour 30 minutes', value: '1h30m' },
    ]);
    expectWithinLimits(await preview('every', ''));
  });

  it('points a one-off typed into every to at, even with a zone filled in', async () => {
    const choices = await preview('every', 'in 2 hours', { timezone: 'Europe/Paris' });
    expect(choices).toEqual([
      {
        name: '⚠ "in 2 hours" is not a duration: for a one-off time, use at: instead of every:.',
        value: 'in 2 hours',
      },
    ]);
  });

  it('previews a cron in its zone with the next run, and refuses one too frequent', async () => {
    const choices = await preview('cron', '0 9 * * 1', { timezone: 'europe/paris' });
    expect(choices).toHaveLength(1);
    expect(choices[0]!.name).toMatch(/^cron 0 9 \* \* 1 Europe\/Paris · next Mon \d+ \w{3} 09:00 \(in /);
    expect(choices[0]!.value).toBe('0 9 * * 1');
    const tooOften = await preview('cron', '* * * * * *');
    expect(tooOften[0]!.name).toBe(
      '⚠ * * * * * * runs more often than every 10 seconds, the most often a task may run.',
    );
    expectWithinLimits(await preview('cron', ''));
  });
});

describe('picking a choice and sending it', () => {
  it('creates a one-off task from a previewed "in 2 hours", at the instant the preview showed', async () => {
    const [choice] = await preview('at', 'in 2 hours', { timezone: 'Europe/Paris' });
    expect(choice!.name).toMatch(/^once · .* · in 2 h$/);
    const reply = await t.run('create reminder', {
      name: 'once-later',
      channel: general,
      at: String(choice!.value),
      timezone: 'Europe/Paris',
      message: 'later',
    });
    expect(reply).toContain('Created **once-later**');
    const task = t.bot.runtime.list(t.a.id).find((each) => each.name === 'once-later')!;
    expect(task.schedule).toMatchObject({ kind: 'once', timeZone: 'Europe/Paris' });
    expect(task.nextRunAt).toBe(task.schedule.kind === 'once' ? task.schedule.at : -1);
    // The canonical text, typed again, is the same instant.
    const again = await preview('at', String(choice!.value), { timezone: 'Europe/Paris' });
    expect(again[0]!.value).toBe(choice!.value);
  });

  it('runs a one-off task once, then it is completed', async () => {
    const reply = await t.run('create reminder', {
      name: 'once-soon',
      channel: general,
      at: 'in 2 seconds',
      message: 'just once',
    });
    expect(reply).toContain('Created **once-soon**');
    await t.emulator.waitForMessage(general, (m) => m.content === 'just once', { timeoutMs: 15_000 });
    await expect
      .poll(() => t.bot.runtime.list(t.a.id).find((each) => each.name === 'once-soon')?.state, {
        timeout: 10_000,
      })
      .toBe('completed');
  });

  it('refuses a date in the past and an ambiguous date when sent, in one sentence', async () => {
    expect(
      await t.run('create reminder', {
        name: 'late',
        channel: general,
        at: '2020-01-01 10:00',
        message: 'x',
      }),
    ).toBe('"2020-01-01 10:00" is in the past (2020-01-01 10:00): give a future date and time.');
    expect(
      await t.run('create reminder', { name: 'odd', channel: general, at: '01/12/2026 10:00', message: 'x' }),
    ).toBe('"01/12/2026" could be day/month or month/day: write the date like 2026-12-01 or 1 Dec.');
    expect(
      await t.run('create reminder', { name: 'odd', channel: general, every: 'tomorrow', message: 'x' }),
    ).toMatch(/for a one-off time, use at:/);
  });
});

describe('/task interval', () => {
  it("shows the task's current schedule first", async () => {
    await t.run('create reminder', { name: 'weekly', channel: general, at: 'weekdays 18:30', message: 'x' });
    const choices = await preview('at', '', { name: 'weekly' }, { subcommand: 'interval' });
    expectWithinLimits(choices);
    expect(choices[0]!.name).toMatch(/^now: weekly on weekdays 18:30 UTC · next /);
    expect(choices[0]!.value).toBe('weekdays 18:30');
    const reply = await t.run('interval', {
      name: 'weekly',
      at: 'sundays 10am',
      timezone: 'Pacific/Auckland',
    });
    expect(reply).toContain('**weekly** now runs');
  });
});
