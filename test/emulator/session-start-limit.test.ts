import { expect, it } from 'vitest';
import {
  busiestShardLoad,
  recommendedShardCount,
  SessionStartLimit,
  shardOfGuild,
} from '../../emulator/shards.js';

it('counts IDENTIFYs from the first one and starts over once its window has passed', () => {
  const limit = new SessionStartLimit({ total: 3, maxConcurrency: 2, windowMs: 1_000 });
  expect(limit.info(0)).toEqual({ total: 3, remaining: 3, reset_after: 1_000, max_concurrency: 2 });
  limit.take(100);
  limit.take(400);
  expect(limit.info(500)).toEqual({ total: 3, remaining: 1, reset_after: 600, max_concurrency: 2 });
  limit.take(600);
  limit.take(700);
  // Discord does not refuse past the limit (discord.js checks it): remaining stops at 0.
  expect(limit.info(800).remaining).toBe(0);
  expect(limit.info(1_100)).toEqual({ total: 3, remaining: 3, reset_after: 1_000, max_concurrency: 2 });
  limit.take(1_200);
  expect(limit.info(1_300)).toMatchObject({ remaining: 2, reset_after: 900 });
});

it('puts a guild on shard (id >> 22) % count, DMs on shard 0', () => {
  const id = ((1_234_567n << 22n) | 42n).toString();
  expect(shardOfGuild(id, 1)).toBe(0);
  expect(shardOfGuild(id, 2)).toBe(1);
  expect(shardOfGuild(id, 10)).toBe(7);
  expect(shardOfGuild(null, 4)).toBe(0);
});

it('recommends one shard per 1,000 guilds and finds the busiest shard', () => {
  expect([0, 1, 1_000, 1_001, 10_000].map(recommendedShardCount)).toEqual([1, 1, 1, 2, 10]);
  const ids = [0n, 1n, 2n, 4n].map((ms) => (ms << 22n).toString());
  expect(busiestShardLoad(ids, 2)).toBe(3);
  expect(busiestShardLoad(ids, 1_000_000_000)).toBe(1);
  expect(busiestShardLoad([], 2)).toBe(0);
});
