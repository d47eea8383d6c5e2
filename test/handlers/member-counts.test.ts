// Counters without a cache of every member: the client keeps only its own member (createClient), {members}
// follows the gateway's member count, and {humans}, {bots} and {role:…} count a member list fetched from
// Discord when such a counter runs, once per server for counters due together.
import {
  type APIGuildMember,
  GatewayDispatchEvents,
  GatewayIntentBits,
  GatewayOpcodes,
  type Guild,
} from 'discord.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_INTENTS } from '../../src/discord/client.js';
import { MEMBER_FETCH_TIMEOUT_MS, visitAllMembers } from '../../src/handlers/members.js';
import { TransientError } from '../../src/loop/index.js';
import { advance, type Bot, eventually, MINUTE, runsRecorded, startBot } from './helpers.js';

let bot: Bot;

afterEach(async () => {
  await bot?.close();
});

/** A server of 120 members, 20 of them bots (the bot itself and helper-bot included), 30 with the Mods role. */
const LARGE_GUILD = { memberCount: 120, botCount: 20, memberRoles: { Mods: 30 } };

/** The member lists the bot asked Discord for (gateway REQUEST_GUILD_MEMBERS). */
function memberRequests(): { guild_id: string; user_ids?: string[]; query?: string }[] {
  return bot.emulator.gateway.frames.entries
    .filter((f) => f.direction === 'received' && f.op === GatewayOpcodes.RequestGuildMembers)
    .map((f) => f.d as { guild_id: string; user_ids?: string[]; query?: string });
}

function guildRequests(): { query: Record<string, string> }[] {
  return bot.emulator.requests.filter((r) => r.method === 'GET' && r.path === `/guilds/${bot.guild.id}`);
}

/** The text of the counter's one message in #stats. */
function counterText(): string | undefined {
  return bot.emulator.world.messages(bot.guild.channels.stats!)[0]?.message.content;
}

async function counter(name: string, template: string): Promise<void> {
  await bot.create({ name, kind: 'counter', options: { template, target: 'message' } }, 'stats');
}

describe('counter member counts', () => {
  it('counts humans, bots and a role from a fetched member list, though only the bot is cached', async () => {
    bot = await startBot({ guild: LARGE_GUILD });
    const guild = bot.client.guilds.cache.get(bot.guild.id)!;
    expect(guild.large).toBe(true);
    expect([...guild.members.cache.keys()]).toEqual([bot.client.user!.id]);
    await counter(
      'census',
      `Humans: {humans}, bots: {bots}, Mods: {role:${bot.guild.roles.Mods}}, all: {role:${bot.guild.everyoneRoleId}}`,
    );
    await advance(0);
    await runsRecorded(bot, 'census', 1);
    // alice holds Mods too (the helpers' guild spec), beside the 30 synthetic members.
    expect(counterText()).toBe('Humans: 100, bots: 20, Mods: 31, all: 120');
    expect(memberRequests()).toEqual([expect.objectContaining({ guild_id: bot.guild.id, query: '' })]);
    // What was fetched was counted, not kept.
    expect(guild.members.cache.size).toBe(1);

    // A minute on, the count follows Discord: one more human, one bot fewer.
    bot.emulator.world.joinMember(bot.guild.id);
    bot.emulator.world.removeMember(bot.guild.id, bot.guild.members['helper-bot']!);
    await advance(MINUTE);
    await runsRecorded(bot, 'census', 2);
    expect(counterText()).toBe('Humans: 101, bots: 19, Mods: 31, all: 120');
    expect(memberRequests()).toHaveLength(2);
  });

  it('fetches the member list once for two such counters of a server due together', async () => {
    bot = await startBot({ guild: LARGE_GUILD });
    await counter('humans', 'Humans: {humans}');
    await bot.create({ name: 'bots', kind: 'counter', options: { template: 'Bots: {bots}' } }, 'Lounge');
    await advance(0);
    await runsRecorded(bot, 'humans', 1);
    await runsRecorded(bot, 'bots', 1);
    expect(counterText()).toBe('Humans: 100');
    expect(bot.emulator.world.channel(bot.guild.channels.Lounge!).name).toBe('Bots: 20');
    expect(memberRequests()).toHaveLength(1);
  });

  it('follows joins and leaves for {members} without fetching any member or the server', async () => {
    bot = await startBot({ guild: LARGE_GUILD });
    await counter('members', 'Members: {members}, boosts: {boosts}, roles: {roles}');
    await advance(0);
    await runsRecorded(bot, 'members', 1);
    expect(counterText()).toBe('Members: 120, boosts: 0, roles: 3');

    const guild = bot.client.guilds.cache.get(bot.guild.id)!;
    bot.emulator.world.joinMember(bot.guild.id);
    bot.emulator.world.joinMember(bot.guild.id, { bot: true });
    bot.emulator.world.removeMember(bot.guild.id, bot.emulator.world.syntheticMemberId(bot.guild.id, 0));
    await eventually(() => expect(guild.memberCount).toBe(121));
    await advance(MINUTE);
    await runsRecorded(bot, 'members', 2);
    expect(counterText()).toBe('Members: 121, boosts: 0, roles: 3');
    // A server without a {humans}, {bots} or {role:…} counter is never asked for its members.
    expect(memberRequests()).toEqual([]);
    expect(guildRequests()).toEqual([]);
  });

  it('asks Discord for the member count (with_counts) when the bot gets no member events, once a minute', async () => {
    const withoutMembers = DEFAULT_INTENTS.filter((intent) => intent !== GatewayIntentBits.GuildMembers);
    bot = await startBot({ guild: LARGE_GUILD, intents: withoutMembers });
    await counter('members', 'Members: {members}');
    await bot.create({ name: 'again', kind: 'counter', options: { template: 'Also {members}' } }, 'Lounge');
    await advance(0);
    await runsRecorded(bot, 'members', 1);
    await runsRecorded(bot, 'again', 1);
    expect(counterText()).toBe('Members: 120');
    expect(guildRequests().map((r) => r.query)).toEqual([{ with_counts: 'true' }]);

    // The gateway tells this bot nothing of the join; Discord's count does.
    bot.emulator.world.joinMember(bot.guild.id);
    await advance(MINUTE);
    await runsRecorded(bot, 'members', 2);
    expect(counterText()).toBe('Members: 121');
    expect(guildRequests()).toHaveLength(2);
  });
});

/** A server larger than one GUILD_MEMBERS_CHUNK: 2,500 members, 100 of them bots. */
const CHUNKED_GUILD = { memberCount: 2_500, botCount: 100 };

describe('visitAllMembers', () => {
  /** The listeners visitAllMembers adds to the client's gateway events, which must all be gone after it. */
  function gatewayListeners(guild: Guild): number {
    const gateway = guild.client.ws;
    return (
      gateway.listenerCount(GatewayDispatchEvents.GuildMembersChunk) +
      gateway.listenerCount(GatewayDispatchEvents.RateLimited)
    );
  }

  /** Resolves when the client has received the last chunk of a member list (discord.js's own event). */
  function lastChunkArrives(): Promise<void> {
    return new Promise((resolve) => {
      const onChunk = (_members: unknown, _guild: unknown, chunk: { index: number; count: number }) => {
        if (chunk.index !== chunk.count - 1) return;
        bot.client.off('guildMembersChunk', onChunk);
        resolve();
      };
      bot.client.on('guildMembersChunk', onChunk);
    });
  }

  it('hands the member list over chunk by chunk as Discord sends it, keeping none', async () => {
    bot = await startBot({ guild: CHUNKED_GUILD });
    const guild = bot.client.guilds.cache.get(bot.guild.id)!;
    const before = gatewayListeners(guild);
    const chunks: (readonly APIGuildMember[])[] = [];
    await visitAllMembers(guild, (members) => {
      chunks.push(members);
    });
    expect(chunks.map((members) => members.length)).toEqual([1_000, 1_000, 500]);
    expect(new Set(chunks.flat().map((member) => member.user.id)).size).toBe(2_500);
    expect(chunks.flat().filter((member) => member.user.bot)).toHaveLength(100);
    expect(memberRequests()).toEqual([expect.objectContaining({ query: '', limit: 0 })]);
    expect(guild.members.cache.size).toBe(1);
    expect(gatewayListeners(guild)).toBe(before);
  });

  it('counts only its own answer while other member requests of the server are answered', async () => {
    bot = await startBot({ guild: CHUNKED_GUILD });
    const guild = bot.client.guilds.cache.get(bot.guild.id)!;
    const seen = [0, 0];
    // Asked first, so its one-member answer arrives first: a count must not take it for its own.
    const named = guild.members.fetch({ user: [bot.guild.members.alice!] });
    await Promise.all([
      named,
      ...seen.map((_, i) =>
        visitAllMembers(guild, (members) => {
          seen[i]! += members.length;
        }),
      ),
    ]);
    expect(seen).toEqual([2_500, 2_500]);
    expect((await named).map((member) => member.user.username)).toEqual(['alice']);
    expect(memberRequests()).toHaveLength(3);
  });

  it('ends with the error a visit throws, and ignores the chunks after it', async () => {
    bot = await startBot({ guild: CHUNKED_GUILD });
    const guild = bot.client.guilds.cache.get(bot.guild.id)!;
    const before = gatewayListeners(guild);
    // Listened for first: the whole answer may arrive in the same turn as the first chunk.
    const lastChunk = lastChunkArrives();
    let visits = 0;
    const failed = visitAllMembers(guild, () => {
      visits++;
      throw new Error('cannot count this');
    });
    await expect(failed).rejects.toThrow('cannot count this');
    expect(gatewayListeners(guild)).toBe(before);
    // The rest of the answer still arrives, to nobody.
    await lastChunk;
    expect(visits).toBe(1);
  });

  it('is a TransientError when Discord does not answer in time, and ignores a late answer', async () => {
    bot = await startBot({ guild: CHUNKED_GUILD });
    const guild = bot.client.guilds.cache.get(bot.guild.id)!;
    const before = gatewayListeners(guild);
    const lastChunk = lastChunkArrives();
    let visited = 0;
    const late = visitAllMembers(guild, (members) => {
      visited += members.length;
    });
    const settled = late.catch((error: unknown) => error);
    // The clock passes the timeout before the answer can arrive: the bot has not read its socket yet.
    vi.advanceTimersByTime(MEMBER_FETCH_TIMEOUT_MS);
    const error = await settled;
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toBe("Discord did not send the server's members within 60 s");
    expect(gatewayListeners(guild)).toBe(before);
    await lastChunk;
    expect(visited).toBe(0);
  });

  it('is a TransientError naming the wait when Discord limits member requests', async () => {
    bot = await startBot({ guild: CHUNKED_GUILD });
    const guild = bot.client.guilds.cache.get(bot.guild.id)!;
    const before = gatewayListeners(guild);
    const requested = bot.emulator.gateway.waitForNextOp(GatewayOpcodes.RequestGuildMembers);
    let visited = 0;
    const limited = visitAllMembers(guild, (members) => {
      visited += members.length;
    }).catch((error: unknown) => error);
    const { d } = (await requested) as { d: { nonce: string } };
    // Discord's RATE_LIMITED dispatch for this request, before any chunk (the emulator never limits op 8).
    const other = {
      opcode: GatewayOpcodes.RequestGuildMembers,
      retry_after: 1,
      meta: { guild_id: guild.id, nonce: 'another' },
    };
    bot.client.ws.emit(GatewayDispatchEvents.RateLimited, other, 0);
    bot.client.ws.emit(
      GatewayDispatchEvents.RateLimited,
      {
        opcode: GatewayOpcodes.RequestGuildMembers,
        retry_after: 12.5,
        meta: { guild_id: guild.id, nonce: d.nonce },
      },
      0,
    );
    const error = await limited;
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toBe(
      "Discord limits requests for a server's members: it asked to wait 12.5 s",
    );
    expect(visited).toBe(0);
    expect(gatewayListeners(guild)).toBe(before);
  });
});
