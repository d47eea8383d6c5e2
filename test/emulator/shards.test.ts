import { type Client, Events, GatewayCloseCodes, GatewayDispatchEvents, GatewayOpcodes } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Emulator, type EmulatorOptions, shardOfGuild, startEmulator } from '../../emulator/index.js';
import { directClient, login } from './direct-client.js';

/** A client holding `shards` of `shardCount`. */
const shardedClient = (emulator: Emulator, shards: number[], shardCount: number): Client =>
  directClient(emulator, { shards, shardCount });

/** A raw WebSocket that identifies with `d` and resolves with the close code the emulator answers. */
async function closeCodeOfIdentify(emulator: Emulator, d: Record<string, unknown>): Promise<number> {
  const socket = new WebSocket(`${emulator.gateway.url}?v=10&encoding=json`);
  return new Promise((resolve, reject) => {
    socket.on('message', (data) => {
      const payload = JSON.parse(data.toString()) as { op: number };
      if (payload.op !== GatewayOpcodes.Hello) return;
      socket.send(
        JSON.stringify({
          op: GatewayOpcodes.Identify,
          d: { token: emulator.token, intents: 1, properties: {}, ...d },
        }),
      );
    });
    socket.on('close', (code) => resolve(code));
    socket.on('error', reject);
  });
}

/** A raw WebSocket identified as `shard`, once its READY has been sent. */
async function identifiedSocket(emulator: Emulator, shard: [number, number]): Promise<WebSocket> {
  const socket = new WebSocket(`${emulator.gateway.url}?v=10&encoding=json`);
  socket.on('message', (data) => {
    if ((JSON.parse(data.toString()) as { op: number }).op !== GatewayOpcodes.Hello) return;
    socket.send(
      JSON.stringify({ op: GatewayOpcodes.Identify, d: { token: emulator.token, intents: 1, shard } }),
    );
  });
  await emulator.gateway.waitForNextSession({ shard: shard[0] });
  return socket;
}

describe('gateway sharding', () => {
  let emulator: Emulator | undefined;
  const clients: Client[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.destroy();
    await emulator?.close();
    emulator = undefined;
  });
  const start = async (
    options: EmulatorOptions = {},
    guilds = 6,
  ): Promise<{ emulator: Emulator; guildIds: string[] }> => {
    emulator = await startEmulator(options);
    const guildIds: string[] = [];
    for (let i = 0; i < guilds; i++) {
      guildIds.push(emulator.world.createGuild({ name: `Guild ${i}`, channels: [{ name: 'general' }] }).id);
    }
    return { emulator, guildIds };
  };
  const client = (e: Emulator, shards: number[], count: number) => {
    const c = shardedClient(e, shards, count);
    clients.push(c);
    return c;
  };

  it('spreads guilds created in one go over shards by Discord’s formula', async () => {
    const { guildIds } = await start();
    const shards = guildIds.map((id) => shardOfGuild(id, 3));
    expect(shards.map((shard) => (shard - shards[0]! + 3) % 3)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(shards).toEqual(guildIds.map((id) => Number((BigInt(id) >> 22n) % 3n)));
  });

  it('gives a client with both shards each guild once, on the shard that owns it', async () => {
    const { emulator, guildIds } = await start();
    const both = await login(client(emulator, [0, 1], 2));
    expect([...both.guilds.cache.keys()].sort()).toEqual([...guildIds].sort());
    for (const guild of both.guilds.cache.values()) expect(guild.shardId).toBe(shardOfGuild(guild.id, 2));
    expect(emulator.gateway.connectedShards()).toEqual([0, 1]);
    const creates = emulator.gateway.frames.entries.filter((f) => f.t === GatewayDispatchEvents.GuildCreate);
    expect(creates.map((f) => (f.d as { id: string }).id).sort()).toEqual([...guildIds].sort());
    for (const frame of creates) expect(frame.shard).toBe(shardOfGuild((frame.d as { id: string }).id, 2));
    const readies = emulator.gateway.frames.entries.filter((f) => f.t === GatewayDispatchEvents.Ready);
    expect(readies.map((f) => (f.d as { shard: number[] }).shard).sort()).toEqual([
      [0, 2],
      [1, 2],
    ]);
  });

  it('gives two clients with one shard each disjoint guild sets that cover every guild', async () => {
    const { emulator, guildIds } = await start();
    const first = await login(client(emulator, [0], 2));
    const second = await login(client(emulator, [1], 2));
    const seen0 = [...first.guilds.cache.keys()];
    const seen1 = [...second.guilds.cache.keys()];
    expect(seen0).toEqual(guildIds.filter((id) => shardOfGuild(id, 2) === 0));
    expect(seen1).toEqual(guildIds.filter((id) => shardOfGuild(id, 2) === 1));
    expect([...seen0, ...seen1].sort()).toEqual([...guildIds].sort());
    expect(emulator.gateway.connectedShards()).toEqual([0, 1]);
  });

  it('sends guild events and interactions only to the owning shard', async () => {
    const { emulator, guildIds } = await start();
    const first = await login(client(emulator, [0], 2));
    const second = await login(client(emulator, [1], 2));
    const onShard1 = guildIds.find((id) => shardOfGuild(id, 2) === 1)!;
    const lateOn0 = new Promise<string>((resolve) => first.once(Events.GuildCreate, (g) => resolve(g.id)));
    const lateOn1 = new Promise<string>((resolve) => second.once(Events.GuildCreate, (g) => resolve(g.id)));
    // Two guilds made one after the other land on the two shards; each client hears only of its own.
    const created = [0, 1].map(
      (i) => emulator.world.createGuild({ name: `Late ${i}`, channels: [{ name: 'general' }] }).id,
    );
    const [on0, on1] = shardOfGuild(created[0]!, 2) === 0 ? created : [...created].reverse();
    expect(await lateOn0).toBe(on0);
    expect(await lateOn1).toBe(on1);
    const renamed = new Promise<string>((resolve) =>
      second.once(Events.ChannelUpdate, (_old, channel) => resolve(channel.id)),
    );
    const channelId = emulator.world.guild(onShard1).channelIds[0]!;
    emulator.world.updateChannel(channelId, { name: 'renamed' });
    expect(await renamed).toBe(channelId);
    const updates = emulator.gateway.frames.entries.filter(
      (f) => f.t === GatewayDispatchEvents.ChannelUpdate,
    );
    expect(updates.map((f) => f.shard)).toEqual([1]);
    expect(first.channels.cache.has(channelId)).toBe(false);
    expect(first.guilds.cache.has(on1!)).toBe(false);
    expect(second.guilds.cache.has(on0!)).toBe(false);
    // A slash command in each guild reaches only the client that holds it.
    await second.application!.commands.set([{ name: 'ping', description: 'Pong' }]);
    const heard: Array<[number, string | null]> = [];
    for (const [index, c] of [first, second].entries()) {
      c.on(Events.InteractionCreate, (interaction) => {
        heard.push([index, interaction.guildId]);
        if (interaction.isChatInputCommand()) void interaction.reply('pong');
      });
    }
    for (const guildId of [on0!, on1!]) {
      const guild = emulator.world.guild(guildId);
      const handle = emulator.invokeSlash({
        user: guild.ownerId,
        guild: guildId,
        channel: guild.channelIds[0]!,
        command: 'ping',
      });
      expect((await handle.waitForReply()).content).toBe('pong');
    }
    expect(heard).toEqual([
      [0, on0],
      [1, on1],
    ]);
    const interactions = emulator.gateway.frames.entries.filter(
      (f) => f.t === GatewayDispatchEvents.InteractionCreate,
    );
    expect(interactions.map((f) => f.shard)).toEqual([0, 1]);
  });

  it('reconnects one shard without touching the other', async () => {
    const { emulator } = await start();
    const both = await login(client(emulator, [0, 1], 2));
    const identifies = emulator.gateway.countReceived(GatewayOpcodes.Identify);
    const resumed = new Promise<number>((resolve) => both.once(Events.ShardResume, (id) => resolve(id)));
    emulator.gateway.closeShard(1, 4000, 'Unknown error');
    expect(emulator.gateway.connectedShards()).toEqual([0]);
    expect(await resumed).toBe(1);
    expect(emulator.gateway.connectedShards()).toEqual([0, 1]);
    expect(emulator.gateway.countReceived(GatewayOpcodes.Identify)).toBe(identifies);
    const again = new Promise<number>((resolve) => both.once(Events.ShardReady, (id) => resolve(id)));
    emulator.gateway.closeShard(0, 1000);
    const identify = await emulator.gateway.waitForIdentify(0, { next: true });
    expect((identify.d as { shard: number[] }).shard).toEqual([0, 2]);
    expect(await again).toBe(0);
    expect(() => emulator.gateway.close(4000)).toThrow(/Shards 0, 1 are connected: name one/);
    expect(() => emulator.gateway.closeShard(5, 4000)).toThrow(/Shard 5 is not connected/);
  });

  it('lets a second connection for a shard replace the first', async () => {
    const { emulator, guildIds } = await start();
    const first = await identifiedSocket(emulator, [0, 2]);
    const second = await identifiedSocket(emulator, [0, 2]);
    expect(emulator.gateway.connectedShards()).toEqual([0]);
    const onShard0 = guildIds.find((id) => shardOfGuild(id, 2) === 0)!;
    emulator.world.updateChannel(emulator.world.guild(onShard0).channelIds[0]!, { name: 'after' });
    const update = await emulator.gateway.waitForDispatch(GatewayDispatchEvents.ChannelUpdate);
    const connections = emulator.gateway.frames.entries
      .filter((f) => f.t === GatewayDispatchEvents.Ready)
      .map((f) => f.connection);
    expect(update.connection).toBe(connections[1]);
    expect(
      emulator.gateway.frames.entries.filter((f) => f.t === GatewayDispatchEvents.ChannelUpdate),
    ).toHaveLength(1);
    first.close();
    second.close();
  });

  it('closes an IDENTIFY whose shard count leaves a shard too many guilds with 4011', async () => {
    const { emulator } = await start({ maxGuildsPerShard: 3 });
    expect(await closeCodeOfIdentify(emulator, {})).toBe(GatewayCloseCodes.ShardingRequired);
    expect(await closeCodeOfIdentify(emulator, { shard: [0, 1] })).toBe(GatewayCloseCodes.ShardingRequired);
    // Two shards of three guilds each are allowed: the client logs in.
    const both = await login(client(emulator, [0, 1], 2));
    expect(both.guilds.cache.size).toBe(6);
  });

  it('reaches discord.js as its shard’s disconnect with 4011', async () => {
    const { emulator } = await start({ maxGuildsPerShard: 5 });
    const single = client(emulator, [0], 1);
    const disconnected = new Promise<number>((resolve) =>
      single.once(Events.ShardDisconnect, (event) => resolve(event.code)),
    );
    void single.login().catch(() => {});
    expect(await disconnected).toBe(GatewayCloseCodes.ShardingRequired);
    expect(emulator.gateway.countReceived(GatewayOpcodes.Identify)).toBe(1);
  });

  it('closes an IDENTIFY for an invalid shard with 4010', async () => {
    const { emulator } = await start();
    for (const shard of [[2, 2], [0, 0], [-1, 2], [0.5, 2], [0], 'x', [0, 1, 2], [0, '2']]) {
      expect(await closeCodeOfIdentify(emulator, { shard }), JSON.stringify(shard)).toBe(
        GatewayCloseCodes.InvalidShard,
      );
    }
    expect(emulator.gateway.connectedShards()).toEqual([]);
  });

  it('reports large_threshold outside 50–250 as unexpected', async () => {
    const { emulator } = await start();
    const socket = new WebSocket(`${emulator.gateway.url}?v=10&encoding=json`);
    socket.on('message', (data) => {
      if ((JSON.parse(data.toString()) as { op: number }).op !== GatewayOpcodes.Hello) return;
      socket.send(
        JSON.stringify({
          op: GatewayOpcodes.Identify,
          d: { token: emulator.token, intents: 1, large_threshold: 10 },
        }),
      );
    });
    await emulator.gateway.waitForDispatch(GatewayDispatchEvents.Ready);
    expect(emulator.unexpected).toEqual(['IDENTIFY large_threshold 10 is outside 50–250']);
    emulator.clearUnexpected();
    socket.close();
  });
});

describe('GET /gateway/bot', () => {
  let emulator: Emulator | undefined;
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });
  const gatewayBot = async (e: Emulator) => {
    const response = await fetch(`${e.apiBase}/v10/gateway/bot`, {
      headers: { authorization: `Bot ${e.token}` },
    });
    expect(response.status).toBe(200);
    return (await response.json()) as {
      url: string;
      shards: number;
      session_start_limit: { total: number; remaining: number; reset_after: number; max_concurrency: number };
    };
  };

  it('recommends one shard per 1,000 guilds and counts IDENTIFYs against the session start limit', async () => {
    emulator = await startEmulator({ sessionStartLimit: { total: 5, maxConcurrency: 2 } });
    const before = await gatewayBot(emulator);
    expect(before).toEqual({
      url: emulator.gateway.url,
      shards: 1,
      session_start_limit: { total: 5, remaining: 5, reset_after: 86_400_000, max_concurrency: 2 },
    });
    for (let i = 0; i < 1_001; i++) emulator.world.createGuild({ name: `g${i}` });
    expect((await gatewayBot(emulator)).shards).toBe(2);
    const client = shardedClient(emulator, [0, 1], 2);
    await login(client);
    const after = await gatewayBot(emulator);
    expect(after.session_start_limit.remaining).toBe(3);
    expect(after.session_start_limit.reset_after).toBeGreaterThan(86_000_000);
    expect(after.session_start_limit.reset_after).toBeLessThanOrEqual(86_400_000);
    await client.destroy();
  });

  it('reports the recommendedShards option as given', async () => {
    emulator = await startEmulator({ recommendedShards: 4 });
    expect((await gatewayBot(emulator)).shards).toBe(4);
  });

  it('refuses a session start limit that cannot be', async () => {
    await expect(startEmulator({ sessionStartLimit: { maxConcurrency: 0 } })).rejects.toThrow(
      /maxConcurrency/,
    );
    await expect(startEmulator({ sessionStartLimit: { total: 0 } })).rejects.toThrow(/total/);
  });
});
