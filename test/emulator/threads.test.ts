import {
  type AnyThreadChannel,
  ChannelType,
  DiscordAPIError,
  type ForumChannel,
  type Guild,
  type GuildBasedChannel,
  PermissionFlagsBits,
  RESTJSONErrorCodes,
  Routes,
  type TextChannel,
} from 'discord.js';
import { describe, expect, it } from 'vitest';
import type { GuildSpec, World } from '../../emulator/index.js';
import { type Harness, useHarness } from './harness.js';

/** A second guild with a forum and threads, announced live; resolves once the client has cached it. */
async function threadedGuild(
  harness: Harness,
  spec: Partial<GuildSpec> = {},
): Promise<{ handle: ReturnType<World['createGuild']>; guild: Guild }> {
  const handle = harness.emulator.world.createGuild({
    name: 'Threads',
    channels: [
      { name: 'chat' },
      { name: 'news', type: 'announcement' },
      { name: 'ideas', type: 'forum', topic: 'One post per idea' },
      { name: 'Lounge', type: 'voice' },
    ],
    threads: [
      { name: 'open-thread', parent: 'chat' },
      { name: 'old-thread', parent: 'chat', archived: true },
      { name: 'first-post', parent: 'ideas' },
    ],
    ...spec,
  });
  await expect.poll(() => harness.client.guilds.cache.has(handle.id)).toBe(true);
  return { handle, guild: harness.client.guilds.cache.get(handle.id)! };
}

function cached<T extends GuildBasedChannel>(guild: Guild, id: string, type: ChannelType): T {
  const channel = guild.channels.cache.get(id);
  if (channel?.type !== type) throw new Error(`channel ${id} is not of type ${type} in the client's cache`);
  return channel as T;
}

/** The Discord error code a REST call fails with. */
async function codeOf(call: Promise<unknown>): Promise<number | string> {
  try {
    await call;
  } catch (error) {
    if (error instanceof DiscordAPIError) return error.code;
    throw error;
  }
  throw new Error('the call succeeded');
}

describe('threads and forums', () => {
  const start = useHarness();

  it('announces a forum and the active threads in GUILD_CREATE; an archived thread is fetched on demand', async () => {
    const harness = await start();
    const { handle, guild } = await threadedGuild(harness);
    const forum = cached<ForumChannel>(guild, handle.channels.ideas!, ChannelType.GuildForum);
    expect(forum.topic).toBe('One post per idea');
    const open = cached<AnyThreadChannel>(guild, handle.threads['open-thread']!, ChannelType.PublicThread);
    expect(open.parentId).toBe(handle.channels.chat);
    expect(open.archived).toBe(false);
    expect(
      cached<AnyThreadChannel>(guild, handle.threads['first-post']!, ChannelType.PublicThread).parentId,
    ).toBe(forum.id);
    // Discord lists only active threads at connect; an archived one is not cached until fetched.
    expect(guild.channels.cache.has(handle.threads['old-thread']!)).toBe(false);
    const old = await harness.client.channels.fetch(handle.threads['old-thread']!);
    expect(old?.isThread() && old.archived).toBe(true);
    // Threads are not channels of the guild's channel list, as on Discord.
    const listed = (await harness.client.rest.get(Routes.guildChannels(handle.id))) as { id: string }[];
    expect(listed.map((c) => c.id)).not.toContain(open.id);
    const active = await guild.channels.fetchActiveThreads();
    expect([...active.threads.keys()].sort()).toEqual([open.id, handle.threads['first-post']!].sort());
  });

  it('opens threads from a text and an announcement channel, and the bot posts in them', async () => {
    const harness = await start();
    const { handle, guild } = await threadedGuild(harness);
    const chat = cached<TextChannel>(guild, handle.channels.chat!, ChannelType.GuildText);
    const thread = await chat.threads.create({ name: 'planning', type: ChannelType.PublicThread });
    expect(thread.type).toBe(ChannelType.PublicThread);
    expect(thread.ownerId).toBe(harness.emulator.world.botUser.id);
    expect(harness.client.channels.cache.get(thread.id)).toBe(thread);
    const sent = await thread.send({ content: 'hello thread', nonce: 'n-1', enforceNonce: true });
    // The same nonce in the same thread returns the first message, as in any channel.
    const again = await thread.send({ content: 'hello thread', nonce: 'n-1', enforceNonce: true });
    expect(again.id).toBe(sent.id);
    expect(harness.emulator.world.messages(thread.id).map((r) => r.message.content)).toEqual([
      'hello thread',
    ]);
    const privateThread = await chat.threads.create({ name: 'mods', type: ChannelType.PrivateThread });
    expect(privateThread.type).toBe(ChannelType.PrivateThread);
    expect(privateThread.joined).toBe(true);
    const news = guild.channels.cache.get(handle.channels.news!);
    if (news?.type !== ChannelType.GuildAnnouncement) throw new Error('news is not an announcement channel');
    const announcementThread = await news.threads.create({ name: 'launch' });
    expect(announcementThread.type).toBe(ChannelType.AnnouncementThread);
  });

  it('opens a forum post with its first message, and refuses a message sent to the forum itself', async () => {
    const harness = await start();
    const { handle, guild } = await threadedGuild(harness);
    const forum = cached<ForumChannel>(guild, handle.channels.ideas!, ChannelType.GuildForum);
    const post = await forum.threads.create({ name: 'Dark mode', message: { content: 'Who wants it?' } });
    expect(post.parentId).toBe(forum.id);
    const [starter] = harness.emulator.world.messages(post.id);
    // Discord gives a post's first message the post's own id.
    expect(starter?.message.id).toBe(post.id);
    expect(starter?.message.content).toBe('Who wants it?');
    expect((await post.fetchStarterMessage())?.content).toBe('Who wants it?');
    expect(harness.emulator.world.channel(forum.id).lastMessageId).toBe(post.id);
    expect(
      await codeOf(harness.client.rest.post(Routes.channelMessages(forum.id), { body: { content: 'hi' } })),
    ).toBe(RESTJSONErrorCodes.CannotSendMessagesInNonTextChannel);
  });

  it('does not deduplicate forum posts by nonce: Discord documents none for a post’s first message', async () => {
    const harness = await start();
    const { handle } = await threadedGuild(harness);
    const body = { name: 'Daily', message: { content: 'same', nonce: 'slot-1', enforce_nonce: true } };
    const first = (await harness.client.rest.post(Routes.threads(handle.channels.ideas!), { body })) as {
      id: string;
    };
    const second = (await harness.client.rest.post(Routes.threads(handle.channels.ideas!), { body })) as {
      id: string;
    };
    expect(second.id).not.toBe(first.id);
    expect(harness.emulator.world.message(first.id).nonce).toBeNull();
  });

  it('reopens an archived thread when the bot posts, and refuses a locked one without Manage Threads', async () => {
    const harness = await start();
    const { handle, guild } = await threadedGuild(harness);
    const { world } = harness.emulator;
    const threadId = handle.threads['open-thread']!;
    const thread = cached<AnyThreadChannel>(guild, threadId, ChannelType.PublicThread);
    world.updateThread(threadId, { archived: true });
    await expect.poll(() => thread.archived).toBe(true);
    await thread.send('wake up');
    expect(world.channel(threadId).thread?.archived).toBe(false);
    await expect.poll(() => thread.archived).toBe(false);

    world.updateThread(threadId, { locked: true });
    expect(await codeOf(thread.send('locked'))).toBe(RESTJSONErrorCodes.ThreadLocked);
    world.updateThread(threadId, { archived: true });
    expect(await codeOf(thread.send('locked and archived'))).toBe(
      RESTJSONErrorCodes.InvalidActionOnArchivedThread,
    );
    // Reopening a locked thread needs Manage Threads too.
    expect(await codeOf(thread.setArchived(false))).toBe(RESTJSONErrorCodes.MissingPermissions);
    const botRole = handle.botRoleId!;
    world.updateRole(botRole, {
      permissions: world.role(botRole).permissions | PermissionFlagsBits.ManageThreads,
    });
    await thread.send('moderator override');
    expect(world.messages(threadId).map((r) => r.message.content)).toEqual(['wake up', 'moderator override']);
  });

  it('checks thread permissions on the parent: Send Messages in Threads, Create Public Threads, Create Posts', async () => {
    const harness = await start();
    const { world } = harness.emulator;
    const { handle, guild } = await threadedGuild(harness, {
      everyonePermissions: ['ViewChannel', 'ReadMessageHistory'],
      botPermissions: ['ViewChannel', 'SendMessages', 'ReadMessageHistory'],
    });
    const chat = cached<TextChannel>(guild, handle.channels.chat!, ChannelType.GuildText);
    const thread = cached<AnyThreadChannel>(guild, handle.threads['open-thread']!, ChannelType.PublicThread);
    expect(await codeOf(thread.send('no'))).toBe(RESTJSONErrorCodes.MissingPermissions);
    expect(await codeOf(chat.threads.create({ name: 'x', type: ChannelType.PublicThread }))).toBe(
      RESTJSONErrorCodes.MissingPermissions,
    );
    const forum = cached<ForumChannel>(guild, handle.channels.ideas!, ChannelType.GuildForum);
    world.updateChannel(forum.id, {
      overwrites: [{ id: world.botUser.id, type: 1, allow: 0n, deny: PermissionFlagsBits.SendMessages }],
    });
    expect(await codeOf(forum.threads.create({ name: 'x', message: { content: 'y' } }))).toBe(
      RESTJSONErrorCodes.MissingPermissions,
    );
    world.updateRole(handle.botRoleId!, {
      permissions: world.role(handle.botRoleId!).permissions | PermissionFlagsBits.SendMessagesInThreads,
    });
    await thread.send('now I may');
    expect(world.messages(thread.id)).toHaveLength(1);
  });

  it('hides a private thread from the bot until it is added', async () => {
    const harness = await start();
    const { world } = harness.emulator;
    const { handle, guild } = await threadedGuild(harness, {
      threads: [{ name: 'secret', parent: 'chat', type: 'private' }],
    });
    const secret = handle.threads.secret!;
    expect(guild.channels.cache.has(secret)).toBe(false);
    expect(
      await codeOf(harness.client.rest.post(Routes.channelMessages(secret), { body: { content: 'hi' } })),
    ).toBe(RESTJSONErrorCodes.MissingAccess);
    // Opened while the bot looks on: still no THREAD_CREATE for it.
    const later = world.createThread({ name: 'later', parent: handle.channels.chat!, type: 'private' });
    const announced = (id: string) =>
      harness.emulator.gateway.frames.entries.some(
        (f) => f.t === 'THREAD_CREATE' && (f.d as { id?: string }).id === id,
      );
    world.joinThread(secret, world.botUser.id);
    // Added, the bot hears of the thread and of its membership.
    await expect
      .poll(() => {
        const thread = guild.channels.cache.get(secret);
        return thread?.isThread() && thread.joined;
      })
      .toBe(true);
    expect(announced(later)).toBe(false);
    expect(guild.channels.cache.has(later)).toBe(false);
    await harness.client.rest.post(Routes.channelMessages(secret), { body: { content: 'hi' } });
    expect(world.messages(secret)).toHaveLength(1);
  });

  it('deletes a thread with THREAD_DELETE, and a channel with its threads', async () => {
    const harness = await start();
    const { world } = harness.emulator;
    const { handle, guild } = await threadedGuild(harness);
    const threadId = handle.threads['open-thread']!;
    world.deleteChannel(threadId);
    await expect.poll(() => guild.channels.cache.has(threadId)).toBe(false);
    expect(
      await codeOf(harness.client.rest.post(Routes.channelMessages(threadId), { body: { content: 'x' } })),
    ).toBe(RESTJSONErrorCodes.UnknownChannel);
    const postId = handle.threads['first-post']!;
    world.deleteChannel(handle.channels.ideas!);
    await expect.poll(() => guild.channels.cache.has(postId)).toBe(false);
    expect(() => world.channel(postId)).toThrow('Unknown Channel');
  });

  it('refuses bad thread requests with Discord’s codes', async () => {
    const harness = await start();
    const { handle } = await threadedGuild(harness);
    const post = (channelId: string, body: unknown) =>
      codeOf(harness.client.rest.post(Routes.threads(channelId), { body }));
    const { chat, ideas, Lounge } = handle.channels as Record<string, string>;
    expect(await post(chat!, { name: '' })).toBe(RESTJSONErrorCodes.InvalidFormBodyOrContentType);
    expect(await post(chat!, { name: 'x'.repeat(101) })).toBe(
      RESTJSONErrorCodes.InvalidFormBodyOrContentType,
    );
    expect(await post(chat!, { name: 'x', auto_archive_duration: 5 })).toBe(
      RESTJSONErrorCodes.InvalidFormBodyOrContentType,
    );
    expect(await post(chat!, { name: 'x', type: ChannelType.AnnouncementThread })).toBe(
      RESTJSONErrorCodes.InvalidFormBodyOrContentType,
    );
    expect(await post(ideas!, { name: 'no message' })).toBe(RESTJSONErrorCodes.InvalidFormBodyOrContentType);
    expect(await post(ideas!, { name: 'empty', message: { content: '' } })).toBe(
      RESTJSONErrorCodes.CannotSendAnEmptyMessage,
    );
    expect(await post(Lounge!, { name: 'voice' })).toBe(
      RESTJSONErrorCodes.CannotExecuteActionOnThisChannelType,
    );
    expect(await post(handle.threads['open-thread']!, { name: 'nested' })).toBe(
      RESTJSONErrorCodes.CannotExecuteActionOnThisChannelType,
    );
    // An archived thread takes no edit but reopening.
    const old = handle.threads['old-thread']!;
    expect(await codeOf(harness.client.rest.patch(Routes.channel(old), { body: { name: 'renamed' } }))).toBe(
      RESTJSONErrorCodes.InvalidActionOnArchivedThread,
    );
  });
});

describe('World threads: what a test may ask for', () => {
  it('refuses thread specs Discord could not hold', async () => {
    const { World } = await import('../../emulator/world.js');
    const world = new World();
    const guild = (threads: GuildSpec['threads']) =>
      world.createGuild({
        name: 'g',
        channels: [
          { name: 'chat' },
          { name: 'ideas', type: 'forum' },
          { name: 'news', type: 'announcement' },
          { name: 'Lounge', type: 'voice' },
        ],
        threads,
      });
    expect(() => guild([{ name: 't', parent: 'Lounge' }])).toThrow(
      'thread t: its parent must be a text, announcement or forum channel',
    );
    expect(() => guild([{ name: 't', parent: 'ideas', type: 'private' }])).toThrow(
      'thread t: only a text channel has private threads',
    );
    expect(() => guild([{ name: 't', parent: 'news', type: 'private' }])).toThrow(
      'thread t: only a text channel has private threads',
    );
    const handle = guild([{ name: 'n', parent: 'news' }]);
    expect(world.channel(handle.threads.n!).type).toBe(ChannelType.AnnouncementThread);
    expect(() => world.updateThread(handle.channels.chat!, { archived: true })).toThrow('is not a thread');
    expect(() => world.joinThread(handle.channels.chat!, world.botUser.id)).toThrow('is not a thread');
    expect(() => world.createThread({ name: 'x', parent: '123' })).toThrow('Unknown Channel');
  });
});
