import { afterEach, describe, expect, it } from 'vitest';
import { updateTask } from '../../src/db/index.js';
import { runNonce } from '../../src/tasks/index.js';
import { advance, type Bot, eventually, MINUTE, runsRecorded, startBot } from './helpers.js';

let bot: Bot;

afterEach(async () => {
  await bot?.close();
});

describe('reminder', () => {
  it('posts once per slot, count times, then the task is completed', async () => {
    bot = await startBot();
    const channelId = bot.guild.channels.general!;
    await bot.create({ name: 'standup', kind: 'reminder', options: { message: 'Stand-up in 5' }, count: 3 });
    await advance(0);
    await runsRecorded(bot, 'standup', 1);
    await advance(MINUTE);
    await runsRecorded(bot, 'standup', 2);
    await advance(MINUTE);
    await eventually(() => expect(bot.runtime.info(bot.guild.id, 'standup').task.state).toBe('completed'));
    await advance(5 * MINUTE);
    const posts = bot.emulator.world.messages(channelId);
    expect(posts.map((r) => r.message.content)).toEqual(['Stand-up in 5', 'Stand-up in 5', 'Stand-up in 5']);
    expect(new Set(posts.map((r) => r.nonce)).size).toBe(3);
    const { runs } = bot.runtime.info(bot.guild.id, 'standup');
    expect(runs.map((r) => r.outcome)).toEqual(['ok', 'ok', 'ok']);
  });

  it('pings only the chosen role; @everyone, @here and other roles typed in the text ping nobody', async () => {
    bot = await startBot();
    const { roles, channels } = bot.guild;
    const text = `Patch night! @everyone @here <@&${roles.Quiet}>`;
    await bot.create({
      name: 'patch',
      kind: 'reminder',
      options: { message: text, role: roles.Mods },
      count: 1,
    });
    await advance(0);
    const posted = await bot.emulator.waitForMessage(channels.general!, undefined, { timeoutMs: 3_000 });
    const record = bot.emulator.world.message(posted.id);
    expect(record.message.content).toBe(`<@&${roles.Mods}> ${text}`);
    expect(record.pings).toEqual({ users: [], roles: [roles.Mods], everyone: false });
  });

  it('without a role pings nobody at all', async () => {
    bot = await startBot();
    const { roles, channels } = bot.guild;
    await bot.create({
      name: 'quiet',
      kind: 'reminder',
      options: { message: `@everyone look <@&${roles.Mods}>` },
      count: 1,
    });
    await advance(0);
    const posted = await bot.emulator.waitForMessage(channels.general!, undefined, { timeoutMs: 3_000 });
    expect(bot.emulator.world.message(posted.id).pings).toEqual({ users: [], roles: [], everyone: false });
  });

  it('pings @everyone only when the admin chose the @everyone role, in an embed with title and colour', async () => {
    bot = await startBot();
    const { channels, everyoneRoleId } = bot.guild;
    await bot.create({
      name: 'all-hands',
      kind: 'reminder',
      options: { message: 'All hands at 3', role: everyoneRoleId, title: 'Meeting', color: '#5865f2' },
      count: 1,
    });
    await advance(0);
    const posted = await bot.emulator.waitForMessage(channels.general!, undefined, { timeoutMs: 3_000 });
    const record = bot.emulator.world.message(posted.id);
    expect(record.message.content).toBe('@everyone');
    expect(record.message.embeds).toEqual([
      expect.objectContaining({ title: 'Meeting', description: 'All hands at 3', color: 0x5865f2 }),
    ]);
    expect(record.pings.everyone).toBe(true);
    expect(record.pings.roles).toEqual([]);
  });

  it('posts once when a slot is replayed: the nonce makes Discord return the first message', async () => {
    bot = await startBot();
    const channelId = bot.guild.channels.general!;
    const task = await bot.create({ name: 'once', kind: 'reminder', options: { message: 'tick' } });
    await advance(0);
    await runsRecorded(bot, 'once', 1);
    expect(bot.emulator.world.messages(channelId)).toHaveLength(1);
    const first = bot.emulator.world.messages(channelId)[0]!;
    expect(first.nonce).toBe(runNonce(task.id, task.nextRunAt!));
    // A crash between posting and recording: after restart the same slot runs again with the same nonce.
    await bot.restart(() =>
      updateTask(bot.connection.db, task.id, {
        currentLoop: 0,
        lastRunAt: null,
        nextRunAt: task.nextRunAt,
        catchUp: 'once',
        updatedAt: Date.now(),
      }),
    );
    await advance(0);
    await runsRecorded(bot, 'once', 2);
    expect(bot.runtime.info(bot.guild.id, 'once').runs.map((run) => run.outcome)).toEqual(['ok', 'ok']);
    const posts = bot.emulator.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/messages'));
    expect(posts).toHaveLength(2);
    expect(bot.emulator.world.messages(channelId)).toHaveLength(1);
  });

  it('fails the task with a clear reason when the channel is gone or the kind unknown', async () => {
    bot = await startBot();
    bot.emulator.world.deleteChannel(bot.guild.channels.stats!);
    await eventually(() => expect(bot.client.channels.cache.has(bot.guild.channels.stats!)).toBe(false));
    await bot.create({ name: 'lost', kind: 'reminder', options: { message: 'hi' } }, 'stats');
    await bot.create({ name: 'ghost', kind: 'no-such-kind', options: {} });
    await bot.create({ name: 'bad', kind: 'reminder', options: { message: '' } });
    await advance(0);
    await eventually(() => {
      expect(bot.runtime.info(bot.guild.id, 'lost').task.state).toBe('failed');
      expect(bot.runtime.info(bot.guild.id, 'ghost').task.state).toBe('failed');
      expect(bot.runtime.info(bot.guild.id, 'bad').task.state).toBe('failed');
    });
    expect(bot.runtime.info(bot.guild.id, 'lost').task.lastError).toContain(bot.guild.channels.stats!);
    expect(bot.runtime.info(bot.guild.id, 'ghost').task.lastError).toContain('"no-such-kind"');
    expect(bot.runtime.info(bot.guild.id, 'bad').task.lastError).toMatch(/options are not valid.*message/);
  });

  it('records a permission refusal from Discord as the run error', async () => {
    bot = await startBot({
      guild: {
        channels: [
          { name: 'general' },
          { name: 'stats' },
          { name: 'readonly', overwrites: [{ role: '@everyone', deny: ['SendMessages'] }] },
        ],
      },
    });
    await bot.create({ name: 'denied', kind: 'reminder', options: { message: 'hi' } }, 'readonly');
    await advance(0);
    await eventually(() => expect(bot.runtime.info(bot.guild.id, 'denied').task.state).toBe('failed'));
    const { task, runs } = bot.runtime.info(bot.guild.id, 'denied');
    expect(task.lastError).toMatch(/refused the post in #readonly.*Missing Permissions/);
    expect(runs[0]?.outcome).toBe('error');
  });
});
