import { ChannelType } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { getHandlerState, setHandlerState, updateTask } from '../../src/db/index.js';
import { forumPostTitle } from '../../src/handlers/builtin/reminder.js';
import { runNonce } from '../../src/tasks/index.js';
import { startTestBot, type TestBot } from '../commands/helpers.js';
import { advance, type Bot, eventually, MINUTE, runsRecorded, startBot } from './helpers.js';

let bot: Bot | undefined;
let commands: TestBot | undefined;

afterEach(async () => {
  await bot?.close();
  await commands?.close();
  bot = undefined;
  commands = undefined;
});

/** The handler test bot, with a forum and threads beside #general. */
function startThreadedBot(): Promise<Bot> {
  return startBot({
    guild: {
      channels: [{ name: 'general' }, { name: 'ideas', type: 'forum' }, { name: 'clips', type: 'media' }],
      threads: [
        { name: 'standups', parent: 'general' },
        { name: 'archive', parent: 'general', archived: true },
        { name: 'frozen', parent: 'general', locked: true },
      ],
    },
  });
}

describe('reminder in threads and forums: runs', () => {
  it('posts into a thread with the slot nonce, like any channel', async () => {
    bot = await startThreadedBot();
    const threadId = bot.guild.threads.standups!;
    const task = await bot.create({
      name: 'standup',
      kind: 'reminder',
      options: { message: 'Stand-up!' },
      channelId: threadId,
      count: 1,
    });
    await advance(0);
    await runsRecorded(bot, 'standup', 1);
    const [post] = bot.emulator.world.messages(threadId);
    expect(post?.message.content).toBe('Stand-up!');
    expect(post?.nonce).toBe(runNonce(task.id, task.nextRunAt!));
    expect(bot.runtime.info(bot.guild.id, 'standup').runs[0]?.outcome).toBe('ok');
  });

  it('opens a new forum post each run, named by the title, or by the first line of the message', async () => {
    bot = await startThreadedBot();
    const forumId = bot.guild.channels.ideas!;
    const { world } = bot.emulator;
    await bot.create({
      name: 'weekly',
      kind: 'reminder',
      options: { message: 'What did you ship?', title: 'Weekly check-in', color: '#5865f2' },
      channelId: forumId,
      count: 2,
    });
    const long = `${'Long first line '.repeat(10)}\nsecond line`;
    await bot.create({
      name: 'untitled',
      kind: 'reminder',
      options: { message: long },
      channelId: forumId,
      count: 1,
    });
    await advance(0);
    await runsRecorded(bot, 'weekly', 1);
    await runsRecorded(bot, 'untitled', 1);
    await advance(MINUTE);
    await runsRecorded(bot, 'weekly', 2);
    const posts = world
      .guild(bot.guild.id)
      .threadIds.map((id) => world.channel(id))
      .filter((c) => c.parentId === forumId);
    expect(posts.map((p) => p.name).sort()).toEqual(
      ['Weekly check-in', 'Weekly check-in', forumPostTitle({ message: long })].sort(),
    );
    expect(forumPostTitle({ message: long })).toHaveLength(100);
    expect(forumPostTitle({ message: long }).endsWith('…')).toBe(true);
    const weekly = posts.filter((p) => p.name === 'Weekly check-in');
    expect(new Set(weekly.map((p) => p.id)).size).toBe(2);
    for (const post of weekly) {
      const [starter] = world.messages(post.id);
      expect(starter?.message.id).toBe(post.id);
      expect(starter?.message.embeds[0]).toMatchObject({
        title: 'Weekly check-in',
        description: 'What did you ship?',
      });
    }
    // Nothing was sent to the forum itself, which Discord would refuse.
    expect(world.messages(forumId)).toEqual([]);
  });

  it('opens a post in a media channel the same way', async () => {
    bot = await startThreadedBot();
    const mediaId = bot.guild.channels.clips!;
    await bot.create({
      name: 'clip',
      kind: 'reminder',
      options: { message: 'Clip of the week?' },
      channelId: mediaId,
      count: 1,
    });
    await advance(0);
    await runsRecorded(bot, 'clip', 1);
    const { world } = bot.emulator;
    const [postId] = world
      .guild(bot.guild.id)
      .threadIds.filter((id) => world.channel(id).parentId === mediaId);
    expect(world.channel(postId!).name).toBe('Clip of the week?');
    expect(world.messages(postId!).map((r) => r.message.content)).toEqual(['Clip of the week?']);
  });

  /**
   * Runs a forum reminder's first slot, lets `crash` damage what the bot kept, then replays the slot as after
   * a restart (same nonce). Resolves with the forum's posts and how many times the replay asked Discord for
   * the active threads.
   */
  async function replayFirstSlot(crash: (current: Bot, taskId: number) => void) {
    bot = await startThreadedBot();
    const current = bot;
    const forumId = current.guild.channels.ideas!;
    const task = await current.create({
      name: 'daily',
      kind: 'reminder',
      options: { message: 'Daily thread' },
      channelId: forumId,
    });
    await advance(0);
    await runsRecorded(current, 'daily', 1);
    const scansBefore = activeThreadScans(current);
    // The run's record is lost, so the slot runs again with the same nonce.
    await current.restart(() => {
      updateTask(current.connection.db, task.id, {
        currentLoop: 0,
        lastRunAt: null,
        nextRunAt: task.nextRunAt,
        catchUp: 'once',
        updatedAt: Date.now(),
      });
      crash(current, task.id);
    });
    await advance(0);
    await runsRecorded(current, 'daily', 2);
    expect(current.runtime.info(current.guild.id, 'daily').runs[0]?.outcome).toBe('ok');
    const { world } = current.emulator;
    const posts = world
      .guild(current.guild.id)
      .threadIds.filter((id) => world.channel(id).parentId === forumId);
    return { posts, scans: activeThreadScans(current) - scansBefore };
  }

  const activeThreadScans = (current: Bot) =>
    current.emulator.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/threads/active')).length;

  it('opens one forum post when a slot is replayed after its post was noted, without asking Discord', async () => {
    const { posts, scans } = await replayFirstSlot(() => {});
    expect(posts).toHaveLength(1);
    expect(scans).toBe(0);
  });

  it('opens one forum post when the bot died between opening it and noting it: the replay finds it', async () => {
    const { posts, scans } = await replayFirstSlot((current, taskId) => {
      const note = getHandlerState(current.connection.db, taskId, 'forumPost') as { nonce: string };
      setHandlerState(current.connection.db, taskId, 'forumPost', { nonce: note.nonce });
    });
    expect(posts).toHaveLength(1);
    expect(scans).toBe(1);
  });

  it('opens the post when the bot died after noting the attempt but before Discord opened it', async () => {
    let lost = '';
    const { posts, scans } = await replayFirstSlot((current, taskId) => {
      const note = getHandlerState(current.connection.db, taskId, 'forumPost') as {
        nonce: string;
        threadId: string;
      };
      setHandlerState(current.connection.db, taskId, 'forumPost', { nonce: note.nonce });
      lost = note.threadId;
      // As if the first attempt's post never happened.
      current.emulator.world.deleteChannel(note.threadId);
    });
    expect(scans).toBe(1);
    expect(posts).toHaveLength(1);
    expect(posts[0]).not.toBe(lost);
  });

  it('reopens an archived thread by posting, even one the gateway never announced', async () => {
    bot = await startThreadedBot();
    const archiveId = bot.guild.threads.archive!;
    const { world } = bot.emulator;
    // Archived threads are not in GUILD_CREATE: the run has to ask Discord for it.
    expect(bot.client.channels.cache.has(archiveId)).toBe(false);
    await bot.create({
      name: 'revive',
      kind: 'reminder',
      options: { message: 'Still here' },
      channelId: archiveId,
      count: 1,
    });
    await advance(0);
    await runsRecorded(bot, 'revive', 1);
    expect(bot.runtime.info(bot.guild.id, 'revive').runs[0]?.outcome).toBe('ok');
    expect(world.messages(archiveId).map((r) => r.message.content)).toEqual(['Still here']);
    expect(world.channel(archiveId).thread?.archived).toBe(false);
  });

  it('fails the run with a clear reason in a locked thread and in a deleted one', async () => {
    bot = await startThreadedBot();
    const current = bot;
    const standups = current.guild.threads.standups!;
    await current.create({
      name: 'frozen',
      kind: 'reminder',
      options: { message: 'hi' },
      channelId: current.guild.threads.frozen!,
    });
    current.emulator.world.deleteChannel(standups);
    await eventually(() => expect(current.client.channels.cache.has(standups)).toBe(false));
    await current.create({ name: 'gone', kind: 'reminder', options: { message: 'hi' }, channelId: standups });
    await advance(0);
    await eventually(() => {
      expect(current.runtime.info(current.guild.id, 'frozen').task.state).toBe('failed');
      expect(current.runtime.info(current.guild.id, 'gone').task.state).toBe('failed');
    });
    expect(current.runtime.info(current.guild.id, 'frozen').task.lastError).toMatch(
      /thread #frozen .* is locked; unlock it or give the bot Manage Threads/,
    );
    expect(current.runtime.info(current.guild.id, 'gone').task.lastError).toBe(
      `the channel ${standups} no longer exists or the bot cannot see it`,
    );
    expect(current.emulator.world.messages(current.guild.threads.frozen!)).toEqual([]);
  });
});

describe('/task create in threads and forums', () => {
  /** Adds a forum, threads and a private thread to guild A, and waits until the bot has them. */
  async function threadedServer(t: TestBot) {
    const { world } = t.emulator;
    const general = t.a.channels.general!;
    const ids = {
      forum: world.createChannel(t.a.id, { name: 'ideas', type: 'forum' }),
      media: world.createChannel(t.a.id, { name: 'clips', type: 'media' }),
      thread: world.createThread({ name: 'chat-thread', parent: general }),
      archived: world.createThread({ name: 'old', parent: general, archived: true }),
      locked: world.createThread({ name: 'frozen', parent: general, locked: true }),
      hidden: world.createThread({ name: 'mods-only', parent: general, type: 'private', owner: t.a.admin }),
      lockedParentThread: world.createThread({ name: 'quiet', parent: t.a.channels.locked! }),
    };
    const cache = t.bot.client.channels.cache;
    await eventually(() =>
      expect([ids.forum, ids.media, ids.thread, ids.locked].every((id) => cache.has(id))).toBe(true),
    );
    return ids;
  }

  const reminder = (channel: string, extra: Record<string, string> = {}) => ({
    name: `r-${channel.slice(-6)}`,
    channel,
    every: '1h',
    message: 'hi',
    ...extra,
  });

  it('accepts a thread, an archived thread, a forum and a media channel for a reminder', async () => {
    commands = await startTestBot();
    const ids = await threadedServer(commands);
    expect(await commands.run('create reminder', reminder(ids.thread))).toMatch(/^Created \*\*r-/);
    // Posting reopens an archived thread that is not locked, as Discord does.
    expect(await commands.run('create reminder', reminder(ids.archived))).toMatch(/^Created \*\*r-/);
    expect(await commands.run('create reminder', reminder(ids.forum, { title: 'Ideas' }))).toMatch(
      /^Created \*\*r-/,
    );
    expect(await commands.run('create reminder', reminder(ids.media))).toMatch(/^Created \*\*r-/);
  });

  it('names Send Messages in Threads and Create Posts when the bot lacks them', async () => {
    commands = await startTestBot();
    const t = commands;
    const ids = await threadedServer(t);
    const { world } = t.emulator;
    const deny = (channel: string, bit: bigint) =>
      world.updateChannel(channel, { overwrites: [{ id: world.botUser.id, type: 1, allow: 0n, deny: bit }] });
    const { PermissionFlagsBits } = await import('discord.js');
    deny(ids.forum, PermissionFlagsBits.SendMessages);
    deny(t.a.channels.announcements!, PermissionFlagsBits.SendMessagesInThreads);
    const announcementThread = world.createThread({
      name: 'news-thread',
      parent: t.a.channels.announcements!,
    });
    await eventually(() => {
      const forum = t.bot.client.channels.cache.get(ids.forum);
      expect(forum?.type === ChannelType.GuildForum && forum.permissionOverwrites.cache.size).toBe(1);
      expect(t.bot.client.channels.cache.has(announcementThread)).toBe(true);
    });
    expect(await t.run('create reminder', reminder(ids.forum))).toBe(
      `I can't work in <#${ids.forum}>: I need the **Create Posts** permission there.`,
    );
    expect(await t.run('create reminder', reminder(announcementThread))).toBe(
      `I can't work in <#${announcementThread}>: I need the **Send Messages in Threads** permission there.`,
    );
    // A forum post is a thread too; the forum's settings call the permission Send Messages in Posts.
    const post = world.createThread({ name: 'a post', parent: ids.forum });
    world.updateChannel(ids.forum, {
      overwrites: [
        { id: world.botUser.id, type: 1, allow: 0n, deny: PermissionFlagsBits.SendMessagesInThreads },
      ],
    });
    await eventually(() => {
      const thread = t.bot.client.channels.cache.get(post);
      const me = t.bot.client.guilds.cache.get(t.a.id)!.members.me!;
      expect(
        thread?.isThread() && thread.permissionsFor(me)?.has(PermissionFlagsBits.SendMessagesInThreads),
      ).toBe(false);
    });
    expect(await t.run('create reminder', reminder(post))).toBe(
      `I can't work in <#${post}>: I need the **Send Messages in Posts** permission there.`,
    );
    // The thread takes its parent's permissions: #locked denies the bot Send Messages, not Send Messages in Threads.
    expect(await t.run('create reminder', reminder(ids.lockedParentThread))).toMatch(/^Created \*\*r-/);
  });

  it('refuses a locked thread and a private thread the bot is not in, saying what to do', async () => {
    commands = await startTestBot();
    const ids = await threadedServer(commands);
    expect(await commands.run('create reminder', reminder(ids.locked))).toBe(
      `<#${ids.locked}> is locked, so I can't post there; unlock it or give me the **Manage Threads** permission.`,
    );
    // discord.js keeps the thread the admin picked from the interaction, so the bot knows it is not a member.
    expect(await commands.run('create reminder', reminder(ids.hidden))).toBe(
      `I'm not in the private thread <#${ids.hidden}>; add me to it (mention me there) or pick another channel.`,
    );
    const t = commands;
    t.emulator.world.joinThread(ids.hidden, t.emulator.world.botUser.id);
    await eventually(() => {
      const thread = t.bot.client.channels.cache.get(ids.hidden);
      expect(thread?.isThread() && thread.joined).toBe(true);
    });
    expect(await t.run('create reminder', reminder(ids.hidden))).toMatch(/^Created \*\*r-/);
  });

  it('keeps counters and leaderboards out of channels they cannot work in', async () => {
    commands = await startTestBot();
    const ids = await threadedServer(commands);
    expect(
      await commands.run('create counter', {
        name: 'members',
        channel: ids.thread,
        every: '10m',
        template: 'Members: {members}',
      }),
    ).toBe(
      `A counter task can't work in <#${ids.thread}>, a thread; pick a text channel, an announcement channel or a voice channel.`,
    );
    expect(await commands.run('create leaderboard', { name: 'top', channel: ids.forum, every: '1h' })).toBe(
      `A leaderboard task can't work in <#${ids.forum}>, a forum; pick a text channel, an announcement channel, a voice channel or a thread.`,
    );
    // A leaderboard is one message edited in place: a thread is fine.
    expect(
      await commands.run('create leaderboard', { name: 'top', channel: ids.thread, every: '1h' }),
    ).toMatch(/^Created \*\*top\*\*/);
  });
});

describe('counters and leaderboards in a thread', () => {
  it('keeps a counter message and a leaderboard up to date in a thread, editing each in place', async () => {
    bot = await startThreadedBot();
    const current = bot;
    const threadId = current.guild.threads.standups!;
    await current.create({
      name: 'members',
      kind: 'counter',
      options: { template: 'Members: {members}', target: 'message' },
      channelId: threadId,
    });
    await current.create({ name: 'top', kind: 'leaderboard', options: {}, channelId: threadId });
    await advance(0);
    await runsRecorded(current, 'members', 1);
    await runsRecorded(current, 'top', 1);
    current.emulator.world.addMember(current.guild.id, { user: { username: 'carol' } });
    await advance(MINUTE);
    await runsRecorded(current, 'members', 2);
    await runsRecorded(current, 'top', 2);
    const posts = current.emulator.world.messages(threadId);
    // One message each, edited in place: no new post per run.
    expect(posts).toHaveLength(2);
    const counterEntries = current.emulator.world
      .transcript(threadId)
      .filter((entry) => entry.message.content.startsWith('Members:'));
    // carol joined between the runs: the counter's one message went from 5 to 6.
    expect(counterEntries.map((e) => [e.kind, e.message.content])).toEqual([
      ['create', 'Members: 5'],
      ['update', 'Members: 6'],
    ]);
    for (const name of ['members', 'top']) {
      expect(current.runtime.info(current.guild.id, name).runs.map((r) => r.outcome)).toEqual(['ok', 'ok']);
    }
  });
});
