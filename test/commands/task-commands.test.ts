// Every /task subcommand end to end: the emulator, the real discord.js client, startBot, SQLite on disk.
import { InteractionResponseType } from 'discord-api-types/v10';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MISSING_SCHEDULE } from '../../src/discord/schedule-input.js';
import { splitPath, startTestBot, type TestBot } from './helpers.js';

let t: TestBot;
let general: string;
beforeAll(async () => {
  t = await startTestBot();
  general = t.a.channels.general!;
});
afterAll(async () => {
  await t?.close();
});

const TIMESTAMPS = /<t:\d+:F> \(<t:\d+:R>\)/;

const reminder = (name: string, extra: Record<string, string | number | boolean> = {}) =>
  t.run('create reminder', { name, channel: general, every: '1h', message: `hello from ${name}`, ...extra });

describe('/task create', () => {
  it('creates a reminder, says when it runs next, and the reminder posts', async () => {
    const reply = await t.run('create reminder', {
      name: 'standup',
      channel: general,
      every: '10s',
      message: 'Stand-up time!',
    });
    expect(reply).toContain('Created **standup**, a reminder task in <#');
    expect(reply).toContain('every 10s');
    expect(reply).toMatch(TIMESTAMPS);
    const posted = await t.emulator.waitForMessage(general, (m) => m.content === 'Stand-up time!');
    expect(posted.author.id).toBe(t.emulator.world.botUser.id);
  });

  it('takes times of day with a time zone, and cron', async () => {
    const daily = await t.run('create reminder', {
      name: 'daily',
      channel: t.a.channels.announcements!,
      at: '18:30, 09:00',
      timezone: 'europe/paris',
      count: 3,
      message: 'Good morning',
    });
    expect(daily).toContain('daily at 09:00, 18:30 (Europe/Paris), 3 times');
    expect(daily).toMatch(TIMESTAMPS);
    const weekly = await t.run('create reminder', {
      name: 'weekly',
      channel: general,
      cron: '0 9 * * 1',
      message: 'New week',
      catchup: 'once',
    });
    expect(weekly).toContain('cron `0 9 * * 1` (UTC)');
  });

  it('answers every wrong input with one sentence', async () => {
    await reminder('taken');
    const cases: [Record<string, string | number>, RegExp][] = [
      [{ name: 'taken' }, /already has a task named "taken"/],
      [{ name: 'Bad Name!' }, /"Bad Name!" is not a valid task name/],
      [{ name: 'x1', every: 'soon' }, /"soon" is not a duration/],
      [{ name: 'x2', every: '5s' }, /at most every 10 seconds/],
      [{ name: 'x3', at: '09:00' }, /only one of `every`, `at` or `cron`/],
      [{ name: 'x4', timezone: 'Europe/Paris' }, /only applies to `at` and `cron`/],
      [{ name: 'x5', every: '', at: '25:00' }, /"25:00" is not a time of day/],
      [
        { name: 'x6', every: '', at: '09:00', timezone: 'Mars/Olympus' },
        /"Mars\/Olympus" is not a time zone/,
      ],
      [{ name: 'x7', every: '', cron: 'every day' }, /That schedule is not valid/],
      [{ name: 'x7b', every: '', cron: '*/2 * * * * *' }, /runs more often than every 10 seconds/],
      [{ name: 'x8', every: '' }, new RegExp(MISSING_SCHEDULE.slice(0, 30).replace(/[`()]/g, '.'))],
      [
        { name: 'x9', color: '#zzzzzz' },
        /The `color` option is not valid for a reminder task: color must look like #5865f2\./,
      ],
      [{ name: 'x10', channel: t.a.channels.locked! }, /I need the \*\*Send Messages\*\* permission there/],
      [{ name: 'x11', timeout: 'soon' }, /"soon" is not a duration: write the timeout like 30s/],
      [{ name: 'x12', timeout: '20m' }, /a run may take at most 15 minutes/],
      [{ name: 'x13', timeout: '0s' }, /A timeout must be at least 1 second\./],
    ];
    for (const [options, expected] of cases) {
      const values = { name: 'x', channel: general, every: '1h', message: 'hi', ...options };
      for (const key of Object.keys(values) as (keyof typeof values)[])
        if (values[key] === '') delete values[key];
      expect(await t.run('create reminder', values), JSON.stringify(options)).toMatch(expected);
    }
    expect(
      await t.run('create counter', {
        name: 'members',
        channel: t.a.channels.locked!,
        every: '10m',
        template: 'Members: {members}',
      }),
    ).toMatch(/I need the \*\*Manage Channels\*\* permission there\.$/);
    // None of the refused ones exists.
    expect((await t.run('list')).match(/\*\*x\d*\*\*/g)).toBeNull();
  });
});

describe('/task list and /task info', () => {
  it('takes a per-run timeout, shows it in info, and aborts a run that overruns it', async () => {
    await reminder('patient', { timeout: '1m30s' });
    expect(t.bot.runtime.info(t.a.id, 'patient').task.timeoutMs).toBe(90_000);
    expect(await t.run('info', { name: 'patient' })).toContain('; timeout 1m30s');
    await reminder('default-timeout');
    expect(await t.run('info', { name: 'default-timeout' })).toContain('; catch-up skip; timeout 1m');

    await t.run('create slow', { name: 'overrun', channel: general, every: '1h', ms: 1_500, timeout: '1s' });
    await waitFor(() => t.bot.runtime.info(t.a.id, 'overrun').runs.length > 0);
    const [run] = t.bot.runtime.info(t.a.id, 'overrun').runs;
    expect(run?.error).toMatch(/took longer than 1(\.0)? ?s/);
    await t.run('delete', { name: 'overrun' });
  });

  it("lists this server's tasks with their state, next run and schedule", async () => {
    await reminder('listed');
    const list = await t.run('list');
    expect(list).toMatch(/\*\*\d+ tasks\*\*/);
    expect(list).toMatch(/• \*\*listed\*\* \(reminder\) running, next <t:\d+:R>, every 1h/);
  });

  it('shows a task in detail, with its runs and the handler status line', async () => {
    await t.run('create slow', { name: 'snail', channel: general, every: '1h', ms: 1 });
    await waitFor(async () => (await t.run('info', { name: 'snail' })).includes('Last 1 run'));
    const info = await t.run('info', { name: 'snail' });
    expect(info).toContain('**snail**');
    expect(info).toContain('Kind: slow in <#');
    expect(info).toContain('Schedule: every 1h; catch-up skip');
    expect(info).toContain('Progress: 1 run done');
    expect(info).toMatch(/Next 5 runs, in your time:\n• <t:\d+:f> \(<t:\d+:R>\)\n/);
    expect(info).toContain('Options: ms: 1');
    expect(info).toContain('Status: each run takes 1 ms');
    expect(info).toMatch(/• <t:\d+:f> ok \(\d+ ms\)/);
    expect(await t.run('info', { name: 'nothing' })).toBe('This server has no task named "nothing".');
    await reminder('pinger', { role: t.a.roles.Crew! });
    expect(await t.run('info', { name: 'pinger' })).toContain(
      `Options: message: "hello from pinger", role: <@&${t.a.roles.Crew}>`,
    );
  });
});

describe('lifecycle', () => {
  it('stops, starts, cancels, restarts and deletes, refusing what makes no sense', async () => {
    await reminder('life');
    expect(await t.run('start', { name: 'life' })).toBe('Task "life" is already running.');
    expect(await t.run('stop', { name: 'life' })).toContain('Stopped **life**');
    expect(await t.run('stop', { name: 'life' })).toBe('Task "life" is not running (it is stopped).');
    expect(await t.run('cancel', { name: 'life' })).toBe('Task "life" is not running (it is stopped).');
    const started = await t.run('start', { name: 'life' });
    expect(started).toContain('Started **life**');
    expect(started).toMatch(TIMESTAMPS);
    expect(await t.run('cancel', { name: 'life' })).toContain('Cancelled **life**');
    expect(await t.run('restart', { name: 'life' })).toMatch(
      /Restarted \*\*life\*\* from its first run\. Next run: /,
    );
    expect(await t.run('delete', { name: 'life' })).toBe('Deleted **life** and its history.');
    for (const sub of ['start', 'stop', 'cancel', 'restart', 'delete', 'info']) {
      expect(await t.run(sub, { name: 'life' })).toBe('This server has no task named "life".');
    }
  });

  it('refuses to start a completed task and says how to run it again', async () => {
    await reminder('once', { count: 1 });
    await waitFor(async () => (await t.run('info', { name: 'once' })).includes('completed'));
    expect(await t.run('start', { name: 'once' })).toBe(
      'Task "once" has completed its 1 runs; use restart to run it again from zero.',
    );
    expect(await t.run('restart', { name: 'once' })).toContain('Restarted **once**');
  });

  it('defers the reply when a command has to wait, then edits the answer in', async () => {
    // A bot of its own that defers after 50 ms, so a run of 600 ms is enough to force the deferred path.
    const quick = await startTestBot({ deferAfterMs: 50 });
    try {
      const channel = quick.a.channels.general!;
      await quick.run('create slow', { name: 'sloth', channel, every: '1h', ms: 600 });
      await waitFor(
        () =>
          quick.bot.runtime.info(quick.a.id, 'sloth').runs.length === 0 &&
          quick.bot.runtime.info(quick.a.id, 'sloth').task.state === 'running',
      );
      expect(await quick.run('stop', { name: 'sloth' })).toContain('Stopped **sloth**');
      // start waits for the graceful stop to let the run in flight finish (about 600 ms).
      const handle = quick.emulator.invokeSlash({
        command: 'task',
        ...splitPath('start'),
        options: { name: 'sloth' },
        user: quick.a.admin,
        guild: quick.a.id,
        channel,
      });
      const ack = await handle.waitForAck({ timeoutMs: 3_000 });
      expect(ack.type).toBe(InteractionResponseType.DeferredChannelMessageWithSource);
      const reply = await handle.waitForReply(undefined, { timeoutMs: 3_000 });
      expect(reply.content).toContain('Started **sloth**');
    } finally {
      await quick.close();
    }
  });
});

describe('/task interval', () => {
  it('changes the schedule and says when the task runs next', async () => {
    await reminder('moving');
    const reply = await t.run('interval', { name: 'moving', every: '2h30m' });
    expect(reply).toMatch(/^\*\*moving\*\* now runs every 2h30m\. Next run: <t:\d+:F> \(<t:\d+:R>\)\.$/);
    expect(await t.run('interval', { name: 'moving', at: '07:15' })).toContain('daily at 07:15 (UTC)');
    // A time zone alone moves the task's own times to that zone.
    expect(await t.run('interval', { name: 'moving', timezone: 'America/New_York' })).toContain(
      'daily at 07:15 (America/New_York)',
    );
    expect(await t.run('interval', { name: 'moving', cron: '*/5 * * * *' })).toContain(
      'cron `*/5 * * * *` (America/New_York)',
    );
  });

  it('refuses a missing or broken schedule and unknown tasks', async () => {
    await reminder('fixed');
    expect(await t.run('interval', { name: 'fixed' })).toBe(MISSING_SCHEDULE);
    expect(await t.run('interval', { name: 'fixed', timezone: 'Asia/Tokyo' })).toMatch(
      /only applies to `at` and `cron`/,
    );
    expect(await t.run('interval', { name: 'fixed', every: '1m', cron: '* * * * *' })).toMatch(/only one of/);
    expect(await t.run('interval', { name: 'ghost', every: '1m' })).toBe(
      'This server has no task named "ghost".',
    );
    expect(await t.run('info', { name: 'fixed' })).toContain('every 1h');
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 4_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
