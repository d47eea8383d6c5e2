// `npm run bench -- emulator-world [guilds] [members]`: what a big emulated world costs the emulator itself.
// 1. Build: `guilds` guilds of `members` synthetic members each (default 10,000 × 1,000 = 10 million), with
//    the time it takes and the emulator's heap and RSS after a GC.
// 2. Serve: raw gateway connections identify as every shard of the fewest Discord allows (2,500 guilds a
//    shard, at least 2) and receive READY and every GUILD_CREATE (the work a sharded bot's login costs the
//    emulator); then one guild's whole member list over
//    REQUEST_GUILD_MEMBERS and over REST pages of 1,000.
// 3. For comparison, the same members stored one by one (createGuild's `members` list, all the emulator had
//    before synthetic members), built for 1 % of the guilds and scaled up.
// Target: the 10 million members well under 500 MB and built in a few seconds.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GatewayDispatchEvents, GatewayIntentBits, GatewayOpcodes } from 'discord-api-types/v10';
import { WebSocket } from 'ws';
import { type Emulator, startEmulator } from '../emulator/index.js';
import { memberChunks } from '../emulator/member-chunks.js';

const guildCount = Number(process.argv[2] ?? 10_000);
const memberCount = Number(process.argv[3] ?? 1_000);
if (!Number.isInteger(guildCount) || guildCount < 1 || !Number.isInteger(memberCount) || memberCount < 2) {
  console.error('usage: npm run bench -- emulator-world [guilds ≥ 1] [members per guild ≥ 2]');
  process.exit(1);
}

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const memory = () => {
  gc();
  gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
};

const baseline = memory();
console.log(`baseline: heap ${mb(baseline.heapUsed)}, rss ${mb(baseline.rss)}`);

// 1. Build.
// Keep only the latest frames, as a big test would: the log would otherwise hold every GUILD_CREATE.
const emulator = await startEmulator({ gatewayFrameHistory: 1_000, strict: false });
let started = performance.now();
const guildIds: string[] = [];
for (let i = 0; i < guildCount; i++) {
  const guild = emulator.world.createGuild({
    name: `Guild ${i}`,
    channels: [{ name: 'general' }, { name: 'Members', type: 'voice' }],
    memberCount,
    botCount: Math.max(1, Math.floor(memberCount / 100)),
  });
  guildIds.push(guild.id);
}
const buildMs = performance.now() - started;
const built = memory();
console.log(
  `build ${guildCount.toLocaleString('en')} guilds × ${memberCount.toLocaleString('en')} members: ` +
    `${(buildMs / 1000).toFixed(2)} s; heap ${mb(built.heapUsed)} (+${mb(built.heapUsed - baseline.heapUsed)}), ` +
    `rss ${mb(built.rss)} (+${mb(built.rss - baseline.rss)})`,
);

// 2. Serve.
const shardCount = Math.max(2, Math.ceil(guildCount / 2_500));
started = performance.now();
const creates = await Promise.all(
  Array.from({ length: shardCount }, (_, shard) => identify(emulator, shard, shardCount)),
);
const identifyMs = performance.now() - started;
const served = memory();
console.log(
  `identify ${shardCount} shards: ${creates.join(' + ')} GUILD_CREATEs in ${(identifyMs / 1000).toFixed(2)} s; ` +
    `heap ${mb(served.heapUsed)}, rss ${mb(served.rss)}`,
);
await memberListing(emulator, guildIds[0]!);
await emulator.close();

// 3. Stored members, for comparison.
const storedGuilds = Math.max(1, Math.floor(guildCount / 100));
const before = memory();
const stored = await startEmulator({ strict: false });
started = performance.now();
for (let i = 0; i < storedGuilds; i++) {
  stored.world.createGuild({
    name: `Stored ${i}`,
    members: Array.from({ length: memberCount - 2 }, (_, n) => ({ user: { username: `u${i}-${n}` } })),
  });
}
const storedMs = performance.now() - started;
const after = memory();
const perMember = (after.heapUsed - before.heapUsed) / (storedGuilds * memberCount);
console.log(
  `stored members (before): ${storedGuilds} guilds × ${memberCount} in ${(storedMs / 1000).toFixed(2)} s, ` +
    `${perMember.toFixed(0)} bytes of heap per member; for ${guildCount.toLocaleString('en')} guilds: ` +
    `~${mb(perMember * guildCount * memberCount)} and ~${((storedMs * guildCount) / storedGuilds / 1000).toFixed(0)} s`,
);
await stored.close();

/** Identifies as `shard` of `count` on a raw socket; resolves with the GUILD_CREATEs received. */
function identify(e: Emulator, shard: number, count: number): Promise<number> {
  const socket = new WebSocket(`${e.gateway.url}?v=10&encoding=json`);
  let expected = -1;
  let received = 0;
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', (code) => {
      if (received !== expected) reject(new Error(`shard ${shard} closed with ${code}`));
    });
    socket.on('message', (data) => {
      const payload = JSON.parse(data.toString()) as {
        op: number;
        t: string | null;
        d: { guilds?: unknown[] };
      };
      if (payload.op === GatewayOpcodes.Hello) {
        socket.send(
          JSON.stringify({
            op: GatewayOpcodes.Identify,
            d: { token: e.token, intents: GatewayIntentBits.Guilds, shard: [shard, count], properties: {} },
          }),
        );
      } else if (payload.t === GatewayDispatchEvents.Ready) {
        expected = payload.d.guilds?.length ?? 0;
      } else if (payload.t === GatewayDispatchEvents.GuildCreate && ++received === expected) {
        socket.close(1000);
        resolve(received);
      }
    });
  });
}

/** One guild's members: every chunk of REQUEST_GUILD_MEMBERS, then every REST page of 1,000. */
async function memberListing(e: Emulator, guildId: string): Promise<void> {
  let t0 = performance.now();
  const chunks = memberChunks(e.world, { guild_id: guildId, query: '', limit: 0 });
  const chunkMs = performance.now() - t0;
  t0 = performance.now();
  let after = '0';
  let listed = 0;
  for (;;) {
    const response = await fetch(`${e.apiBase}/v10/guilds/${guildId}/members?limit=1000&after=${after}`, {
      headers: { authorization: `Bot ${e.token}` },
    });
    const page = (await response.json()) as { user: { id: string } }[];
    if (page.length === 0) break;
    listed += page.length;
    after = page.at(-1)!.user.id;
  }
  const restMs = performance.now() - t0;
  console.log(
    `one guild's members: ${chunks.length} chunks (${chunks.reduce((n, c) => n + c.members.length, 0)} members) ` +
      `in ${chunkMs.toFixed(1)} ms; ${listed} over REST in ${restMs.toFixed(1)} ms`,
  );
}
