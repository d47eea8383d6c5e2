// How start-up decides the shards: SHARD_COUNT or Discord's recommendation, cut into processes; and how the
// manager tells a child its shards.
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../emulator/index.js';
import type { Config } from '../../src/config.js';
import { metricsListenerOf } from '../../src/shard/bot-process.js';
import {
  fetchGatewayAdvice,
  type GatewayAdvice,
  isTokenRefused,
  planShards,
  shardGroups,
} from '../../src/shard/plan.js';
import { scopeEnvironment, scopeFromEnvironment } from '../../src/shard/scope-env.js';

type PlanConfig = Pick<Config, 'discordToken' | 'discordApiBase' | 'shardCount' | 'shardsPerProcess'>;
const config = (shardCount: number | 'auto', shardsPerProcess = 1): PlanConfig => ({
  discordToken: 'token',
  discordApiBase: undefined,
  shardCount,
  shardsPerProcess,
});

/** A stand-in for GET /gateway/bot that counts its calls. */
function advice(answer: GatewayAdvice) {
  const asked = { count: 0 };
  const ask = async () => {
    asked.count++;
    return answer;
  };
  return { ask, asked };
}

describe('shardGroups', () => {
  it('cuts the shards into processes in order, the last one smaller', () => {
    expect(shardGroups(1, 1)).toEqual([[0]]);
    expect(shardGroups(4, 1)).toEqual([[0], [1], [2], [3]]);
    expect(shardGroups(5, 2)).toEqual([[0, 1], [2, 3], [4]]);
    expect(shardGroups(3, 8)).toEqual([[0, 1, 2]]);
  });
});

describe('planShards', () => {
  it("follows Discord's recommendation for auto: one shard is one process", async () => {
    const small = advice({ shards: 1, maxConcurrency: 1 });
    expect(await planShards(config('auto'), small.ask)).toEqual({
      count: 1,
      groups: [[0]],
      maxConcurrency: 1,
    });
    const large = advice({ shards: 3, maxConcurrency: 16 });
    expect(await planShards(config('auto', 2), large.ask)).toEqual({
      count: 3,
      groups: [[0, 1], [2]],
      maxConcurrency: 16,
    });
  });

  it('does not ask Discord for a fixed count that fits in one process', async () => {
    const never = advice({ shards: 9, maxConcurrency: 9 });
    expect(await planShards(config(2, 2), never.ask)).toEqual({
      count: 2,
      groups: [[0, 1]],
      maxConcurrency: 1,
    });
    expect(never.asked.count).toBe(0);
    // Several processes: asked only for the identify concurrency; the count stays the configured one.
    const asked = advice({ shards: 9, maxConcurrency: 4 });
    expect(await planShards(config(2), asked.ask)).toEqual({
      count: 2,
      groups: [[0], [1]],
      maxConcurrency: 4,
    });
    expect(asked.asked.count).toBe(1);
  });

  it('asks the configured API base, and a refused token is told apart', async () => {
    const emulator = await startEmulator({ recommendedShards: 3, sessionStartLimit: { maxConcurrency: 2 } });
    try {
      const base = { discordToken: emulator.token, discordApiBase: emulator.apiBase };
      expect(await fetchGatewayAdvice(base)).toEqual({ shards: 3, maxConcurrency: 2 });
      const refused = await fetchGatewayAdvice({ ...base, discordToken: 'not-the-token' }).catch((e) => e);
      expect(isTokenRefused(refused)).toBe(true);
      expect(isTokenRefused(new Error('socket hang up'))).toBe(false);
    } finally {
      await emulator.close();
    }
  });
});

describe("a child's shards", () => {
  it('travel in SHARDS and SHARD_COUNT, as discord.js reads them', () => {
    const env = scopeEnvironment({ count: 4, ids: [2, 3] });
    expect(env).toEqual({ SHARDS: '[2,3]', SHARD_COUNT: '4' });
    expect(scopeFromEnvironment(env)).toEqual({ count: 4, ids: [2, 3] });
  });

  it('are refused in a sentence when missing or impossible', () => {
    expect(() => scopeFromEnvironment({})).toThrow(
      'A shard process needs SHARDS, a JSON list of shard ids, from its manager; got undefined.',
    );
    expect(() => scopeFromEnvironment({ SHARDS: '1', SHARD_COUNT: '2' })).toThrow(/JSON list of shard ids/);
    expect(() => scopeFromEnvironment({ SHARDS: '["a"]', SHARD_COUNT: '2' })).toThrow(/JSON list/);
    expect(() => scopeFromEnvironment({ SHARDS: '[2]', SHARD_COUNT: '2' })).toThrow(
      'Shard ids run from 0 to 1 for 2 shards, got 2.',
    );
    expect(() => scopeFromEnvironment({ SHARDS: '[0]', SHARD_COUNT: 'auto' })).toThrow(/shard count/);
  });
});

describe('the metrics listener of a shard process', () => {
  it('listens on METRICS_PORT plus its first shard', () => {
    const metrics = { port: 9464, host: '127.0.0.1' };
    expect(metricsListenerOf(metrics, { count: 1, ids: [0] })).toEqual(metrics);
    expect(metricsListenerOf(metrics, { count: 4, ids: [2, 3] })).toEqual({ port: 9466, host: '127.0.0.1' });
    expect(metricsListenerOf(undefined, { count: 4, ids: [1] })).toBeUndefined();
  });
});
