import { afterEach, describe, expect, it } from 'vitest';
import { getCounterState } from '../../src/db/index.js';
import { rejectsOnRateLimit } from '../../src/discord/client.js';
import { handlerStatus } from '../../src/discord/handler-status.js';
import { HELD_HALT_CHECK_MS } from '../../src/handlers/builtin/counter.js';
import { advance, type Bot, eventually, logged, MINUTE, runsRecorded, startBot } from './helpers.js';

let bot: Bot;

afterEach(async () => {
  await bot?.close();
});

function renameRequests(channelId: string) {
  return bot.emulator.requests.filter((r) => r.method === 'PATCH' && r.path === `/channels/${channelId}`);
}

/** Adds a member in the emulator and waits until the client's cache counts them. */
async function join(username: string): Promise<number> {
  const guild = bot.client.guilds.cache.get(bot.guild.id)!;
  const before = guild.memberCount;
  bot.emulator.world.addMember(bot.guild.id, { user: { username } });
  await eventually(() => expect(guild.memberCount).toBe(before + 1));
  return guild.memberCount;
}

/** The guild's members as the emulator (Discord) has them: the client caches only its own member. */
function worldMembers(): { humans: number; bots: number; all: number } {
  const world = bot.emulator.world;
  const members = [...world.guild(bot.guild.id).members.values()];
  const bots = members.filter((m) => world.user(m.userId).bot).length;
  return { humans: members.length - bots, bots, all: members.length };
}

/** The line `/task info` shows for the counter, through the same function the command calls. */
function statusOf(name: string): string | undefined {
  const { task } = bot.runtime.info(bot.guild.id, name);
  return handlerStatus({ registry: bot.registry, db: bot.connection.db }, task);
}

/**
 * A counter on #Lounge that has spent its 2 renames (start, then a member joined) and holds a third change
 * (another member joined) until the window opens. Returns the channel and the task id.
 */
async function counterWithHeldRename(): Promise<{ lounge: string; taskId: number }> {
  const lounge = bot.guild.channels.Lounge!;
  await bot.create({ name: 'humans', kind: 'counter', options: { template: 'Humans: {humans}' } }, 'Lounge');
  await advance(0);
  await runsRecorded(bot, 'humans', 1);
  expect(renameRequests(lounge)).toHaveLength(1);
  await join('carol');
  await advance(MINUTE);
  await runsRecorded(bot, 'humans', 2);
  expect(renameRequests(lounge)).toHaveLength(2);
  await join('dave');
  await advance(MINUTE);
  await runsRecorded(bot, 'humans', 3);
  expect(statusOf('humans')).toBeDefined();
  return { lounge, taskId: bot.runtime.info(bot.guild.id, 'humans').task.id };
}

describe('counter', () => {
  it('renames on change, holds the third change within 10 minutes, then catches up with the latest value', async () => {
    bot = await startBot();
    const lounge = bot.guild.channels.Lounge!;
    const channelName = () => bot.emulator.world.channel(lounge).name;
    const guild = bot.client.guilds.cache.get(bot.guild.id)!;
    const start = guild.memberCount;
    await bot.create(
      { name: 'members', kind: 'counter', options: { template: 'Members: {members}' } },
      'Lounge',
    );
    await advance(0);
    await runsRecorded(bot, 'members', 1);
    expect(channelName()).toBe(`Members: ${start}`);

    // Unchanged count: no request at all.
    await advance(MINUTE);
    await runsRecorded(bot, 'members', 2);
    expect(renameRequests(lounge)).toHaveLength(1);

    const second = await join('carol');
    await advance(MINUTE);
    await runsRecorded(bot, 'members', 3);
    expect(channelName()).toBe(`Members: ${second}`);

    // The window (2 per 10 minutes) is full: the third change is held, not sent.
    const third = await join('dave');
    await advance(MINUTE);
    await runsRecorded(bot, 'members', 4);
    expect(channelName()).toBe(`Members: ${second}`);
    expect(statusOf('members')).toMatch(
      new RegExp(
        `^A rename to “Members: ${third}” is waiting for Discord's limit \\(2 per 10 minutes\\) until <t:\\d+:T>\\.$`,
      ),
    );
    // Latest value wins while held.
    const latest = await join('erin');
    await advance(MINUTE);
    await runsRecorded(bot, 'members', 5);
    expect(statusOf('members')).toContain(`“Members: ${latest}”`);
    expect(renameRequests(lounge)).toHaveLength(2);

    // The window opens 10 minutes (plus a second's margin) after the first rename. Each minute's run is
    // waited for, so the clock never jumps while a request is in flight.
    for (let minute = 5; minute <= 10; minute++) {
      await advance(MINUTE);
      await runsRecorded(bot, 'members', minute + 1);
    }
    await advance(1_000);
    // The held rename's timer applies it; Discord shows the name before the bot has saved it.
    await logged(bot, 'counter channel renamed', 3);
    expect(channelName()).toBe(`Members: ${latest}`);
    expect(renameRequests(lounge)).toHaveLength(3);
    expect(bot.emulator.requests.filter((r) => r.status === 429)).toEqual([]);
    expect(statusOf('members')).toBeUndefined();
    expect(
      getCounterState(bot.connection.db, bot.runtime.info(bot.guild.id, 'members').task.id),
    ).toMatchObject({
      renderedText: `Members: ${latest}`,
      pendingText: null,
    });
  });

  it('drops a held rename when the task is cancelled', async () => {
    bot = await startBot();
    const { lounge, taskId } = await counterWithHeldRename();
    await bot.runtime.cancel(bot.guild.id, 'humans');
    expect(statusOf('humans')).toBeUndefined();
    await advance(10 * MINUTE);
    // The held timer's check drops the pending text; wait for that write, then nothing else was sent.
    await eventually(() => expect(getCounterState(bot.connection.db, taskId)?.pendingText).toBeNull());
    expect(renameRequests(lounge)).toHaveLength(2);
  });

  it('holds a rename Discord refuses with 429 (someone else spent the budget) instead of waiting in the run', async () => {
    bot = await startBot();
    const lounge = bot.guild.channels.Lounge!;
    const channelName = () => bot.emulator.world.channel(lounge).name;
    const guild = bot.client.guilds.cache.get(bot.guild.id)!;
    bot.emulator.rest.faults.fail(
      { method: 'PATCH', path: '/channels/:id' },
      { status: 429, retryAfterSeconds: 300, times: 1 },
    );
    await bot.create(
      { name: 'members', kind: 'counter', options: { template: 'Members: {members}' } },
      'Lounge',
    );
    const startedAt = Date.now();
    await advance(0);
    // The run ends at once (it does not sit out the 5 minutes until its timeout), and the task runs on.
    await runsRecorded(bot, 'members', 1);
    const { task, runs } = bot.runtime.info(bot.guild.id, 'members');
    expect(runs[0]).toMatchObject({ outcome: 'ok', error: null });
    expect(runs[0]!.finishedAt - runs[0]!.startedAt).toBeLessThan(1_000);
    expect(task.state).toBe('running');
    expect(renameRequests(lounge).map((r) => r.status)).toEqual([429]);
    const status = statusOf('members');
    expect(status).toMatch(
      /^A rename to “Members: \d+” is waiting for Discord's limit .* until <t:(\d+):T>\.$/,
    );
    const untilSeconds = Number(/<t:(\d+):T>/.exec(status!)![1]);
    expect(untilSeconds * 1_000).toBeGreaterThanOrEqual(startedAt + 300_000);
    expect(untilSeconds * 1_000).toBeLessThan(startedAt + 303_000);

    // Runs inside Discord's retry-after send nothing; a change meanwhile replaces the held text.
    const latest = await join('carol');
    for (let minute = 1; minute <= 4; minute++) {
      await advance(MINUTE);
      await runsRecorded(bot, 'members', minute + 1);
    }
    expect(renameRequests(lounge)).toHaveLength(1);
    expect(statusOf('members')).toContain(`“Members: ${latest}”`);
    expect(channelName()).toBe('Lounge');

    // After the window (plus the margin): the held rename's timer applies it, once. Small steps, so the fake
    // clock does not jump past the REST timeout while the request is in flight.
    await advance(MINUTE);
    await runsRecorded(bot, 'members', 6);
    expect(renameRequests(lounge)).toHaveLength(1);
    await advance(1_500);
    await logged(bot, 'counter channel renamed');
    expect(channelName()).toBe(`Members: ${guild.memberCount}`);
    expect(statusOf('members')).toBeUndefined();
    expect(renameRequests(lounge).map((r) => r.status)).toEqual([429, 200]);
    expect(bot.runtime.info(bot.guild.id, 'members').task.state).toBe('running');
    expect(bot.runtime.info(bot.guild.id, 'members').runs.every((r) => r.outcome === 'ok')).toBe(true);
  });

  it('forgets a held rename when the task is stopped: no stale status, no pending text, no rename', async () => {
    bot = await startBot();
    const { lounge, taskId } = await counterWithHeldRename();
    expect(getCounterState(bot.connection.db, taskId)?.pendingText).toMatch(/^Humans: /);

    await bot.runtime.stop(bot.guild.id, 'humans');
    // /task info right after the stop no longer says a rename is waiting…
    expect(statusOf('humans')).toBeUndefined();
    // …and the held rename itself is gone soon after (nothing tells a handler of a stop between runs).
    await advance(HELD_HALT_CHECK_MS);
    await eventually(() => expect(getCounterState(bot.connection.db, taskId)?.pendingText).toBeNull());
    // No handler_state left behind either (it once held a copy of the held rename; no 429 was seen here).
    const leftover = bot.connection.sqlite
      .prepare('SELECT count(*) AS n FROM handler_state WHERE task_id = ?')
      .get(taskId) as { n: number };
    expect(leftover.n).toBe(0);
    await advance(10 * MINUTE);
    await new Promise((resolve) => setImmediate(resolve));
    expect(renameRequests(lounge)).toHaveLength(2);
  });

  it('keeps one message up to date in place, and re-posts it after it is deleted', async () => {
    bot = await startBot();
    const stats = bot.guild.channels.stats!;
    await bot.create(
      {
        name: 'census',
        kind: 'counter',
        options: {
          template: `Humans: {humans}, bots: {bots}, Mods: {role:${bot.guild.roles.Mods}}`,
          target: 'message',
        },
      },
      'stats',
    );
    const guild = bot.client.guilds.cache.get(bot.guild.id)!;
    const humans = () => worldMembers().humans;
    const bots = () => worldMembers().bots;
    await advance(0);
    await runsRecorded(bot, 'census', 1);
    expect(bot.emulator.world.messages(stats)).toHaveLength(1);
    const first = bot.emulator.world.messages(stats)[0]!;
    expect(first.message.content).toBe(`Humans: ${humans()}, bots: ${bots()}, Mods: 1`);

    await join('carol');
    bot.emulator.world.updateMember(bot.guild.id, bot.guild.members.bob!, { roles: [bot.guild.roles.Mods!] });
    // The member list fetched a minute ago has gone stale by the next run: a fresh one is fetched.
    await advance(MINUTE);
    await runsRecorded(bot, 'census', 2);
    expect(bot.emulator.world.messages(stats)).toHaveLength(1);
    expect(bot.emulator.world.message(first.message.id).message.content).toBe(
      `Humans: ${humans()}, bots: ${bots()}, Mods: 2`,
    );

    // Unchanged: no edit.
    const edits = () => bot.emulator.world.transcript(stats).filter((e) => e.kind === 'update').length;
    await advance(MINUTE);
    await runsRecorded(bot, 'census', 3);
    expect(edits()).toBe(1);

    bot.emulator.world.deleteMessage(first.message.id);
    const channel = guild.channels.cache.get(stats);
    await eventually(() =>
      expect(channel?.isTextBased() && channel.messages.cache.has(first.message.id)).toBe(false),
    );
    await advance(MINUTE);
    await runsRecorded(bot, 'census', 4);
    expect(bot.emulator.world.messages(stats)).toHaveLength(1);
    const second = bot.emulator.world.messages(stats)[0]!;
    expect(second.message.id).not.toBe(first.message.id);
    expect(second.message.content).toBe(`Humans: ${humans()}, bots: ${bots()}, Mods: 2`);
    expect(bot.runtime.info(bot.guild.id, 'census').runs.every((r) => r.outcome === 'ok')).toBe(true);
  });

  it('counts the @everyone role as every member and a role that no longer exists as 0', async () => {
    bot = await startBot();
    const stats = bot.guild.channels.stats!;
    const gone = bot.emulator.world.createRole(bot.guild.id, { name: 'Gone' });
    bot.emulator.world.updateMember(bot.guild.id, bot.guild.members.bob!, { roles: [gone] });
    const guild = bot.client.guilds.cache.get(bot.guild.id)!;
    await eventually(() => expect(guild.roles.cache.has(gone)).toBe(true));
    bot.emulator.world.deleteRole(gone);
    await eventually(() => expect(guild.roles.cache.has(gone)).toBe(false));
    await bot.create(
      {
        name: 'roles',
        kind: 'counter',
        options: {
          template: `All: {role:${bot.guild.everyoneRoleId}}, Mods: {role:${bot.guild.roles.Mods}}, gone: {role:${gone}}`,
          target: 'message',
        },
      },
      'stats',
    );
    await advance(0);
    await runsRecorded(bot, 'roles', 1);
    expect(bot.emulator.world.messages(stats).map((r) => r.message.content)).toEqual([
      `All: ${worldMembers().all}, Mods: 1, gone: 0`,
    ]);
  });

  it('refuses an unknown placeholder, naming the valid ones', async () => {
    bot = await startBot({ fakeTime: false });
    const result = bot.registry
      .get('counter')!
      .options.safeParse({ template: 'Online: {online} of {members}' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(
      'unknown placeholder {online}; use {members}, {humans}, {bots}, {boosts}, {channels}, {roles} or {role:<role id>}',
    );
  });
});

describe('rate limits the client rejects instead of waiting', () => {
  const limit = {
    global: false,
    hash: 'h',
    limit: 1,
    majorParameter: '123',
    retryAfter: 300_000,
    scope: 'user' as const,
    sublimitTimeout: 300_000,
    timeToReset: 0,
    url: 'https://discord.com/api/v10/channels/123',
  };

  it('rejects only a channel edit (PATCH /channels/:id); every other route and a global limit wait', () => {
    expect(rejectsOnRateLimit({ ...limit, method: 'PATCH', route: '/channels/:id' })).toBe(true);
    expect(rejectsOnRateLimit({ ...limit, method: 'patch', route: '/channels/:id' })).toBe(true);
    expect(rejectsOnRateLimit({ ...limit, method: 'PATCH', route: '/channels/:id', global: true })).toBe(
      false,
    );
    expect(rejectsOnRateLimit({ ...limit, method: 'POST', route: '/channels/:id/messages' })).toBe(false);
    expect(rejectsOnRateLimit({ ...limit, method: 'PATCH', route: '/channels/:id/messages/:id' })).toBe(
      false,
    );
    expect(rejectsOnRateLimit({ ...limit, method: 'GET', route: '/channels/:id' })).toBe(false);
  });
});
