import { ChannelType, DiscordAPIError, MessageFlags, Routes, type TextChannel } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { type Harness, useHarness } from './harness.js';

describe('channel messages', () => {
  const start = useHarness();

  const general = (h: Harness): TextChannel => {
    const channel = h.client.channels.cache.get(h.guild.channels.general!);
    if (channel?.type !== ChannelType.GuildText) throw new Error('general is not a text channel');
    return channel;
  };

  it('sends, edits, fetches and deletes, keeping a transcript', async () => {
    const harness = await start();
    const channel = general(harness);
    const sent = await channel.send('hello');
    await sent.edit('hello, world');
    const fetched = await channel.messages.fetch({ limit: 10 });
    expect(fetched.map((m) => m.content)).toEqual(['hello, world']);
    expect((await channel.messages.fetch(sent.id)).editedTimestamp).not.toBeNull();
    await sent.delete();
    const transcript = harness.emulator.world.transcript(channel.id);
    expect(transcript.map((e) => [e.kind, e.message.content])).toEqual([
      ['create', 'hello'],
      ['update', 'hello, world'],
      ['delete', 'hello, world'],
    ]);
  });

  it('lets a channel edit change only SuppressEmbeds among the flags, as Discord does', async () => {
    const harness = await start();
    const channel = general(harness);
    const sent = await channel.send('see https://example.com');
    await sent.suppressEmbeds(true);
    const flagsOf = () => harness.emulator.world.message(sent.id).message.flags ?? 0;
    expect(flagsOf()).toBe(MessageFlags.SuppressEmbeds);
    // Ephemeral (64) and Crossposted (1) cannot be set by an edit; asking is ignored, not applied.
    await harness.client.rest.patch(Routes.channelMessage(channel.id, sent.id), {
      body: { flags: MessageFlags.Ephemeral | MessageFlags.Crossposted },
    });
    expect(flagsOf()).toBe(0);
  });

  it('lands a message sent twice with the same nonce and enforce_nonce only once', async () => {
    const harness = await start();
    const channel = general(harness);
    const first = await channel.send({
      content: 'reminder',
      nonce: 'task-1:2025-01-01T09:00',
      enforceNonce: true,
    });
    const second = await channel.send({
      content: 'reminder',
      nonce: 'task-1:2025-01-01T09:00',
      enforceNonce: true,
    });
    expect(second.id).toBe(first.id);
    expect(harness.emulator.world.messages(channel.id)).toHaveLength(1);
    // Without enforce_nonce the nonce is only echoed back.
    await channel.send({ content: 'reminder', nonce: 'task-1:2025-01-01T09:00' });
    expect(harness.emulator.world.messages(channel.id)).toHaveLength(2);
  });

  it('records who a message pings after allowed_mentions', async () => {
    const harness = await start();
    const { guild, emulator } = harness;
    const channel = general(harness);
    const content = `<@&${guild.roles.Mods}> <@${guild.members.alice}> <@${guild.members.bob}> @everyone`;
    const restricted = await channel.send({ content, allowedMentions: { roles: [guild.roles.Mods!] } });
    expect(emulator.world.message(restricted.id).pings).toEqual({
      users: [],
      roles: [guild.roles.Mods],
      everyone: false,
    });
    const usersOnly = await channel.send({ content, allowedMentions: { parse: ['users'] } });
    expect(emulator.world.message(usersOnly.id).pings).toEqual({
      users: [guild.members.alice, guild.members.bob],
      roles: [],
      everyone: false,
    });
    const unrestricted = await channel.send({ content });
    expect(emulator.world.message(unrestricted.id).pings.everyone).toBe(true);
    expect(emulator.requests.at(-1)?.body).toMatchObject({ content });
  });

  it('answers 403 when the bot lacks permissions in the channel', async () => {
    const harness = await start();
    const { emulator, guild, client } = harness;
    emulator.world.updateChannel(guild.channels.announcements!, {
      overwrites: [
        { id: emulator.world.guild(guild.id).id, type: 0, allow: 0n, deny: 0x800n /* Send Messages */ },
      ],
    });
    const announcements = client.channels.cache.get(guild.channels.announcements!) as TextChannel;
    const error = await announcements.send('hi').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiscordAPIError);
    expect((error as DiscordAPIError).code).toBe(50013);
    emulator.world.updateChannel(guild.channels.announcements!, {
      overwrites: [{ id: guild.botRoleId!, type: 0, allow: 0n, deny: 0x400n /* View Channel */ }],
    });
    expect(((await announcements.send('hi').catch((e: unknown) => e)) as DiscordAPIError).code).toBe(50001);
  });

  it('delivers messages posted by fake users to the bot', async () => {
    const harness = await start();
    const { emulator, guild, client } = harness;
    const received = new Promise<string>((resolve) =>
      client.once('messageCreate', (m) => resolve(m.author.id)),
    );
    emulator.world.postMessage({
      channel: guild.channels.general!,
      author: guild.members.alice!,
      content: 'gm',
    });
    expect(await received).toBe(guild.members.alice);
    expect((await emulator.waitForMessage(guild.channels.general!)).content).toBe('gm');
  });
});
