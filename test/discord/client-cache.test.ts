// What createClient caches: memory follows servers and channels, not members or messages. Only the bot's
// own member (its permissions), its own user and its own messages are kept.
import { ChannelType } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bot, eventually, startBot } from '../handlers/helpers.js';

let bot: Bot;

afterEach(async () => {
  await bot?.close();
});

describe('the client cache', () => {
  it("keeps the bot's own member, user and messages, and no one else's", async () => {
    bot = await startBot({ fakeTime: false, guild: { memberCount: 80, botCount: 5 } });
    const me = bot.client.user!.id;
    const guild = bot.client.guilds.cache.get(bot.guild.id)!;
    expect(guild.memberCount).toBe(80);
    expect([...guild.members.cache.keys()]).toEqual([me]);
    expect(guild.members.me?.permissions.has('ManageChannels')).toBe(true);
    // Guilds, channels and roles stay whole: tasks check channels, types and permissions through them.
    expect(guild.channels.cache.filter((c) => c.type !== ChannelType.GuildCategory).size).toBe(3);
    expect(guild.roles.cache.has(bot.guild.roles.Mods!)).toBe(true);
    // What Metronome never reads is not kept at all.
    for (const cache of [
      guild.emojis.cache,
      guild.stickers.cache,
      guild.scheduledEvents.cache,
      guild.voiceStates.cache,
    ]) {
      expect(cache).toMatchObject({ maxSize: 0 });
    }

    const general = bot.guild.channels.general!;
    const channel = guild.channels.cache.get(general);
    if (!channel?.isSendable() || !channel.isTextBased()) throw new Error('#general is not a text channel');
    const heard: string[] = [];
    bot.client.on('messageCreate', (message) => heard.push(message.id));
    const theirs = bot.emulator.world.postMessage({
      channel: general,
      author: bot.guild.members.alice!,
      content: 'hi',
    });
    await eventually(() => expect(heard).toContain(theirs.id));
    const mine = await channel.send('hello');
    expect([...channel.messages.cache.keys()]).toEqual([mine.id]);
    // Fetched members are handed over, not kept.
    const fetched = await guild.members.fetch();
    expect(fetched.size).toBe(80);
    expect(guild.members.cache.size).toBe(1);
    expect([...bot.client.users.cache.keys()]).toEqual([me]);
  });
});
