import { ShardClientUtil } from 'discord.js';
import { describe, expect, it } from 'vitest';
import {
  checkShardScope,
  coversAllShards,
  describeScope,
  inShardScope,
  shardOfGuild,
} from '../../src/tasks/index.js';

/** A snowflake whose top 42 bits are `timestampPart` and whose low 22 bits are all ones (the worst rounding case). */
function snowflake(timestampPart: bigint, low = (1n << 22n) - 1n): string {
  return ((timestampPart << 22n) | low).toString();
}

describe('shardOfGuild', () => {
  it("is Discord's (guild_id >> 22) % count", () => {
    expect(shardOfGuild(snowflake(0n, 0n), 4)).toBe(0);
    expect(shardOfGuild(snowflake(1n, 0n), 4)).toBe(1);
    expect(shardOfGuild(snowflake(6n), 4)).toBe(2); // the low 22 bits never matter
    expect(shardOfGuild(snowflake(1234n), 1000)).toBe(234);
    expect(shardOfGuild('4194303', 2)).toBe(0); // below 2^22: always shard 0
    expect(shardOfGuild('4194304', 2)).toBe(1);
    expect(shardOfGuild(snowflake(7n), 1)).toBe(0);
  });

  it('is exact above 2^53, where a Number would round the id', () => {
    // Today's guild ids are ~1.3e18, far above 2^53 (~9e15): dividing a Number lands on the next shard here.
    const id = snowflake(310_000_000_001n);
    expect(BigInt(id)).toBeGreaterThan(2n ** 53n);
    expect(Math.floor(Number(id) / 2 ** 22) % 2).toBe(0); // the float answer, one too high
    expect(shardOfGuild(id, 2)).toBe(1);
    expect(shardOfGuild(snowflake((1n << 42n) - 1n), 3)).toBe(Number(((1n << 42n) - 1n) % 3n)); // 2^64 - 1
  });

  it("agrees with discord.js's ShardClientUtil.shardIdForGuildId on real-looking ids", () => {
    const ids = ['41771983423143937', '175928847299117063', '1180000000000000000', '1311234567890123456'];
    for (let k = 0n; k < 200n; k++)
      ids.push(snowflake(300_000_000_000n + k * 7_919n, (k * 104_729n) % (1n << 22n)));
    for (const count of [1, 2, 3, 4, 16, 100]) {
      for (const id of ids)
        expect(shardOfGuild(id, count)).toBe(ShardClientUtil.shardIdForGuildId(id, count));
    }
  });

  it('refuses what is not a snowflake, or a count below 1, with a sentence', () => {
    for (const id of [
      '',
      'guild-1',
      '-5',
      '1.5',
      ' 12',
      '0x10',
      '123456789012345678901',
      '18446744073709551616',
    ]) {
      expect(() => shardOfGuild(id, 2), id).toThrow(/A server id is a Discord snowflake/);
    }
    for (const count of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => shardOfGuild('1', count)).toThrow(RangeError);
      expect(() => shardOfGuild('1', count)).toThrow(/The shard count must be a whole number of at least 1/);
    }
  });
});

describe('a shard scope', () => {
  it('accepts some or all shards of a count', () => {
    expect(() => checkShardScope({ count: 1, ids: [0] })).not.toThrow();
    expect(() => checkShardScope({ count: 4, ids: [3, 1] })).not.toThrow();
    expect(coversAllShards({ count: 2, ids: [1, 0] })).toBe(true);
    expect(coversAllShards({ count: 4, ids: [0, 2] })).toBe(false);
  });

  it('refuses no shard, a repeated one, or one outside the count, with a sentence', () => {
    expect(() => checkShardScope({ count: 2, ids: [] })).toThrow(
      'A shard scope must hold at least one shard.',
    );
    expect(() => checkShardScope({ count: 2, ids: [1, 1] })).toThrow(
      'Shard 1 is named twice in the shard scope.',
    );
    expect(() => checkShardScope({ count: 2, ids: [2] })).toThrow(
      'Shard ids run from 0 to 1 for 2 shards, got 2.',
    );
    for (const id of [-1, 0.5, Number.NaN]) {
      expect(() => checkShardScope({ count: 4, ids: [id] })).toThrow(RangeError);
    }
    expect(() => checkShardScope({ count: 0, ids: [0] })).toThrow(/The shard count must be/);
  });

  it('holds the servers of its shards', () => {
    const scope = { count: 4, ids: [0, 2] };
    expect(inShardScope(scope, snowflake(8n))).toBe(true);
    expect(inShardScope(scope, snowflake(10n))).toBe(true);
    expect(inShardScope(scope, snowflake(9n))).toBe(false);
    expect(inShardScope(scope, snowflake(11n))).toBe(false);
  });

  it('reads in logs as the shards it holds', () => {
    expect(describeScope({ count: 4, ids: [2, 0] })).toBe('shards 0, 2 of 4');
    expect(describeScope({ count: 2, ids: [1] })).toBe('shard 1 of 2');
  });
});
