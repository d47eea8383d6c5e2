import {
  type Client,
  Events,
  GatewayDispatchEvents,
  type GuildMember,
  PermissionFlagsBits,
} from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type Emulator, InvocationError, startEmulator } from '../../emulator/index.js';
import { directClient, login } from './direct-client.js';

interface LargeWorld {
  emulator: Emulator;
  client: Client;
  guildId: string;
  modsRoleId: string;
  channelId: string;
}

async function rest<T>(emulator: Emulator, path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${emulator.apiBase}/v10${path}`, {
    headers: { authorization: `Bot ${emulator.token}` },
  });
  return { status: response.status, body: (await response.json()) as T };
}

describe('large guilds of synthetic members', () => {
  let world: LargeWorld | undefined;
  afterEach(async () => {
    await world?.client.destroy();
    await world?.emulator.close();
    world = undefined;
  });

  /** A guild of `memberCount` members (10 of them bots, 40 holding Mods), and a logged-in client. */
  const start = async (memberCount = 2_500, ws: { large_threshold?: number } = {}): Promise<LargeWorld> => {
    const emulator = await startEmulator();
    const created = emulator.world.createGuild({
      name: 'Big',
      roles: [{ name: 'Mods', permissions: ['ManageGuild'] }],
      channels: [{ name: 'general' }],
      members: [{ user: { username: 'alice' } }],
      memberCount,
      botCount: 10,
      memberRoles: { Mods: 40 },
      onlineCount: Math.min(123, memberCount),
    });
    const client = await login(directClient(emulator, { ws }));
    world = {
      emulator,
      client,
      guildId: created.id,
      modsRoleId: created.roles.Mods!,
      channelId: created.channels.general!,
    };
    return world;
  };

  it('arrives large, with only the bot among its members, and the true member_count', async () => {
    const { emulator, client, guildId } = await start();
    const frame = await emulator.gateway.waitForDispatch(GatewayDispatchEvents.GuildCreate);
    const d = frame.d as { large: boolean; member_count: number; members: { user: { id: string } }[] };
    expect(d.large).toBe(true);
    expect(d.member_count).toBe(2_500);
    expect(d.members.map((m) => m.user.id)).toEqual([client.user!.id]);
    const guild = client.guilds.cache.get(guildId)!;
    expect(guild.large).toBe(true);
    expect(guild.memberCount).toBe(2_500);
    expect(guild.members.cache.size).toBe(1);
  });

  it('sends every member of a guild at the large threshold, and none beyond it above', async () => {
    const small = await start(50);
    const d = (await small.emulator.gateway.waitForDispatch(GatewayDispatchEvents.GuildCreate)).d as {
      large: boolean;
      members: unknown[];
    };
    expect(d).toMatchObject({ large: false });
    expect(d.members).toHaveLength(50);
    expect(small.client.guilds.cache.get(small.guildId)!.members.cache.size).toBe(50);
  });

  it('honours a large_threshold of 250 from IDENTIFY', async () => {
    const { emulator, client, guildId } = await start(250, { large_threshold: 250 });
    const identify = await emulator.gateway.waitForIdentify(0);
    expect(identify.d).toMatchObject({ large_threshold: 250 });
    expect(client.guilds.cache.get(guildId)!.members.cache.size).toBe(250);
  });

  it('answers guild.members.fetch() with every member in chunks of 1,000', async () => {
    const { emulator, client, guildId } = await start();
    const members = await client.guilds.cache.get(guildId)!.members.fetch();
    expect(members.size).toBe(2_500);
    expect(members.filter((m) => m.user.bot).size).toBe(10);
    expect(members.filter((m) => m.roles.cache.has(world!.modsRoleId)).size).toBe(40);
    expect(members.find((m) => m.user.username === 'alice')).toBeDefined();
    const chunks = emulator.gateway.frames.entries
      .filter((f) => f.t === GatewayDispatchEvents.GuildMembersChunk)
      .map((f) => f.d as { chunk_index: number; chunk_count: number; members: unknown[]; nonce?: string });
    expect(chunks.map((c) => [c.chunk_index, c.chunk_count, c.members.length])).toEqual([
      [0, 3, 1_000],
      [1, 3, 1_000],
      [2, 3, 500],
    ]);
    expect(new Set(chunks.map((c) => c.nonce)).size).toBe(1);
    expect(chunks[0]!.nonce).toEqual(expect.any(String));
  });

  it('finds members by id (reporting unknown ones) and by username prefix over the gateway', async () => {
    const { emulator, client, guildId } = await start();
    const guild = client.guilds.cache.get(guildId)!;
    const some = [0, 1_000, 2_496].map((i) => emulator.world.syntheticMemberId(guildId, i));
    const byId = await guild.members.fetch({ user: [...some, '123456789012345678'] });
    expect([...byId.keys()].sort()).toEqual([...some].sort());
    const chunk = emulator.gateway.frames.entries.findLast(
      (f) => f.t === GatewayDispatchEvents.GuildMembersChunk,
    );
    expect(chunk?.d).toMatchObject({ not_found: ['123456789012345678'] });
    const bots = await guild.members.fetch({ query: 'bot-', limit: 100 });
    // The 9 synthetic bots; the bot itself is named Metronome.
    expect(bots.size).toBe(9);
    expect(bots.every((m) => m.user.bot)).toBe(true);
  });

  it('pages GET /guilds/:id/members by ascending id, 1,000 at most', async () => {
    const { emulator, client, guildId } = await start();
    const guild = client.guilds.cache.get(guildId)!;
    const seen: string[] = [];
    let after = '0';
    for (;;) {
      const page = await guild.members.list({ limit: 1_000, after, cache: false });
      if (page.size === 0) break;
      expect(page.size).toBeLessThanOrEqual(1_000);
      seen.push(...page.keys());
      after = page.lastKey()!;
    }
    expect(seen).toHaveLength(2_500);
    expect(new Set(seen).size).toBe(2_500);
    expect([...seen].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))).toEqual(seen);
    const one = await rest<unknown[]>(emulator, `/guilds/${guildId}/members`);
    expect(one.body).toHaveLength(1);
  });

  it('refuses a member page with a bad limit or after', async () => {
    const { emulator, guildId } = await start(60);
    for (const query of ['limit=0', 'limit=1001', 'limit=ten', 'limit=1.5', 'after=abc', 'after=-1']) {
      const { status, body } = await rest<{ code: number }>(emulator, `/guilds/${guildId}/members?${query}`);
      expect([status, body.code], query).toEqual([400, 50035]);
    }
  });

  it('serves a synthetic member by id, and 404 for one that left', async () => {
    const { emulator, client, guildId } = await start();
    const id = emulator.world.syntheticMemberId(guildId, 7);
    const member = await client.guilds.cache.get(guildId)!.members.fetch({ user: id, force: true });
    expect(member.user).toMatchObject({ id, bot: false });
    expect(member.user.username).toMatch(/^user-\d+$/);
    expect(member.roles.cache.has(world!.modsRoleId)).toBe(true);
    const left = new Promise((resolve) => client.once(Events.GuildMemberRemove, resolve));
    emulator.world.removeMember(guildId, id);
    await left;
    expect((await rest(emulator, `/guilds/${guildId}/members/${id}`)).status).toBe(404);
    // The user still exists after leaving, as on Discord.
    expect((await rest<{ id: string }>(emulator, `/users/${id}`)).body.id).toBe(id);
    expect(() => emulator.world.removeMember(guildId, id)).toThrow(/Unknown Member/);
  });

  it('reports approximate counts with with_counts=true only', async () => {
    const { emulator, client, guildId } = await start();
    const counted = await rest<Record<string, unknown>>(emulator, `/guilds/${guildId}?with_counts=true`);
    expect(counted.body).toMatchObject({ approximate_member_count: 2_500, approximate_presence_count: 123 });
    const plain = await rest<Record<string, unknown>>(emulator, `/guilds/${guildId}`);
    expect(plain.body).not.toHaveProperty('approximate_member_count');
    expect(plain.body).not.toHaveProperty('member_count');
    const fetched = await client.guilds.fetch({ guild: guildId, force: true, withCounts: true });
    expect(fetched.approximateMemberCount).toBe(2_500);
    expect(fetched.approximatePresenceCount).toBe(123);
  });

  it('moves member_count with joins and leaves', async () => {
    const { emulator, client, guildId } = await start();
    const guild = client.guilds.cache.get(guildId)!;
    const joined = new Promise<GuildMember>((resolve) => client.once(Events.GuildMemberAdd, resolve));
    const newcomer = emulator.world.joinMember(guildId, { bot: true });
    expect((await joined).user).toMatchObject({ id: newcomer, bot: true });
    expect(guild.memberCount).toBe(2_501);
    // discord.js announces a leave only for a member it has cached (without partials): fetch it first.
    const leaver = emulator.world.syntheticMemberId(guildId, 0);
    await guild.members.fetch({ user: leaver });
    const left = new Promise((resolve) => client.once(Events.GuildMemberRemove, resolve));
    emulator.world.removeMember(guildId, leaver);
    await left;
    expect(guild.memberCount).toBe(2_500);
    const counted = await rest<{ approximate_member_count: number }>(
      emulator,
      `/guilds/${guildId}?with_counts=true`,
    );
    expect(counted.body.approximate_member_count).toBe(2_500);
    const all = await guild.members.fetch();
    expect(all.size).toBe(2_500);
    expect(all.filter((m) => m.user.bot).size).toBe(11);
  });

  it('keeps a changed synthetic member once, with its change', async () => {
    const { emulator, client, guildId, modsRoleId } = await start();
    const id = emulator.world.syntheticMemberId(guildId, 2_000);
    // discord.js announces an update only for a member it has cached: fetch it first.
    await client.guilds.cache.get(guildId)!.members.fetch({ user: id });
    const updated = new Promise<GuildMember>((resolve) =>
      client.once(Events.GuildMemberUpdate, (_old, member) => resolve(member as GuildMember)),
    );
    emulator.world.updateMember(guildId, id, { roles: [modsRoleId], nick: 'promoted' });
    expect((await updated).nickname).toBe('promoted');
    const all = await client.guilds.cache.get(guildId)!.members.fetch();
    expect(all.size).toBe(2_500);
    expect(all.get(id)?.roles.cache.has(modsRoleId)).toBe(true);
    expect(all.filter((m) => m.roles.cache.has(modsRoleId)).size).toBe(41);
  });

  it('checks command permissions of synthetic members by their roles', async () => {
    const { emulator, client, guildId, channelId } = await start();
    await client.application!.commands.set([
      { name: 'admin', description: 'Mods only', defaultMemberPermissions: PermissionFlagsBits.ManageGuild },
    ]);
    client.on(Events.InteractionCreate, (interaction) => {
      if (interaction.isChatInputCommand()) void interaction.reply(`hi ${interaction.user.username}`);
    });
    const mod = emulator.world.syntheticMemberId(guildId, 3);
    const reply = await emulator
      .invokeSlash({ user: mod, guild: guildId, channel: channelId, command: 'admin' })
      .waitForReply();
    expect(reply.content).toBe(`hi ${emulator.world.user(mod).username}`);
    const plain = emulator.world.syntheticMemberId(guildId, 100);
    expect(() =>
      emulator.invokeSlash({ user: plain, guild: guildId, channel: channelId, command: 'admin' }),
    ).toThrow(InvocationError);
  });

  it('drops a deleted role from synthetic members too', async () => {
    const { emulator, client, guildId, modsRoleId } = await start(100);
    const removed = new Promise((resolve) => client.once(Events.GuildRoleDelete, resolve));
    emulator.world.deleteRole(modsRoleId);
    await removed;
    const member = emulator.world.member(guildId, emulator.world.syntheticMemberId(guildId, 0));
    expect(member.roleIds).toEqual([]);
  });
});

describe('synthetic members: bad specs', () => {
  let emulator: Emulator | undefined;
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  it('refuses counts that cannot be, with the reason', async () => {
    emulator = await startEmulator();
    const { world } = emulator;
    const base = { name: 'G', members: [{ user: { username: 'alice' } }] };
    expect(() => world.createGuild({ ...base, memberCount: 2 })).toThrow(/memberCount must be .* at least 3/);
    expect(() => world.createGuild({ ...base, memberCount: 10.5 })).toThrow(/memberCount/);
    expect(() => world.createGuild({ ...base, memberCount: 10, botCount: 0 })).toThrow(
      /botCount must be between 1 and 8/,
    );
    expect(() => world.createGuild({ ...base, memberCount: 10, botCount: 9 })).toThrow(/botCount/);
    expect(() => world.createGuild({ ...base, memberCount: 10, memberRoles: { Nope: 1 } })).toThrow(
      /unknown role "Nope"/,
    );
    expect(() =>
      world.createGuild({ ...base, roles: [{ name: 'R' }], memberCount: 10, memberRoles: { R: 8 } }),
    ).toThrow(/memberRoles.R must be between 0 and 7/);
    expect(() => world.createGuild({ ...base, memberCount: 10, onlineCount: 11 })).toThrow(/onlineCount/);
    const { id } = world.createGuild({ ...base, memberCount: 10 });
    expect(() => world.syntheticMemberId(id, 7)).toThrow(/no synthetic member 7: the guild has 7/);
    expect(() => world.syntheticMemberId(id, -1)).toThrow(RangeError);
    expect(world.guild(id).members.size).toBe(10);
  });

  it('gives every synthetic member a distinct id that no other world id shares', async () => {
    emulator = await startEmulator();
    const { world } = emulator;
    const guilds = [0, 1, 2].map((i) => world.createGuild({ name: `G${i}`, memberCount: 5_000 }).id);
    // Each guild: its owner, the bot (the same in all three) and 4,998 synthetic members.
    const ids = guilds.flatMap((g) => [...world.guild(g).members.keys()]);
    expect(new Set(ids).size).toBe(3 * 4_999 + 1);
    for (const g of guilds) expect(ids).not.toContain(g);
    const last = world.syntheticMemberId(guilds[2]!, 4_997);
    expect(world.guild(guilds[2]!).members.has(last)).toBe(true);
    expect(world.guild(guilds[1]!).members.has(last)).toBe(false);
    expect(world.hasUser('not-a-snowflake')).toBe(false);
    expect(world.hasUser(world.snowflakes.next())).toBe(false);
  });
});
