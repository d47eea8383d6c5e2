// /healthz and /metrics of a bot running two shards in one process, against the emulator: one shard's outage
// makes the bot unhealthy with that shard named, the metrics show each shard's own readiness, and the bot is
// healthy again once the shard is back, while the other shard stays connected throughout.
import { Writable } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { type Bot, startBot } from '../../src/bot.js';
import { createLogger } from '../../src/log.js';
import { eventually } from '../handlers/helpers.js';
import { type ShardWorld, shardWorld } from './helpers.js';

let world: ShardWorld | undefined;
let bot: Bot | undefined;
afterEach(async () => {
  await bot?.stop();
  bot = undefined;
  await world?.close();
  world = undefined;
});

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

/** The value of a gateway series for one shard in Prometheus text. */
function shardValue(text: string, name: string, shard: number): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`shard="${shard}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

it('names the shard that is down in /healthz, and the metrics follow each shard', async () => {
  world = await shardWorld(2);
  const { emulator } = world;
  const destination = new Writable({ write: (_chunk, _encoding, done) => done() });
  bot = await startBot({
    config: {
      discordToken: emulator.token,
      databasePath: world.databasePath,
      handlersDir: undefined,
      devGuildId: undefined,
      discordApiBase: emulator.apiBase,
      metrics: { port: 0, host: '127.0.0.1' },
    },
    log: createLogger({ level: 'info', destination, token: emulator.token }),
    clientOptions: { testing: true, restTimeoutMs: 2_000, restRetries: 1 },
    shards: { count: 2, ids: [0, 1] },
  });
  const url = bot.monitoring.url!;
  expect(await get(`${url}/healthz`)).toMatchObject({ status: 200 });
  const before = (await get(`${url}/metrics`)).text;
  expect(shardValue(before, 'metronome_gateway_ready', 0)).toBe(1);
  expect(shardValue(before, 'metronome_gateway_ready', 1)).toBe(1);

  // Shard 1 loses its connection and every reconnect is refused; shard 0's connection is untouched.
  emulator.gateway.refuseConnections(1);
  await eventually(async () => {
    const health = await get(`${url}/healthz`);
    expect(health.status).toBe(503);
    expect(health.text).toMatch(/gateway shard 1: reconnecting for \d+s \(attempt \d+\)/);
  }, 15_000);
  const during = (await get(`${url}/metrics`)).text;
  expect(shardValue(during, 'metronome_gateway_ready', 0)).toBe(1);
  expect(shardValue(during, 'metronome_gateway_ready', 1)).toBe(0);
  expect(emulator.gateway.connectedShards()).toEqual([0]);

  emulator.gateway.acceptConnections(1);
  await eventually(async () => expect((await get(`${url}/healthz`)).status).toBe(200), 15_000);
  const after = (await get(`${url}/metrics`)).text;
  expect(shardValue(after, 'metronome_gateway_ready', 1)).toBe(1);
  expect(shardValue(after, 'metronome_gateway_reconnect_attempts_total', 1)).toBeGreaterThanOrEqual(1);
  expect(shardValue(after, 'metronome_gateway_reconnect_attempts_total', 0)).toBe(0);
});
