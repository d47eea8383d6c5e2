// SHARD_COUNT and SHARDS_PER_PROCESS: `auto` and one process per shard unless told, one line naming the
// variable on a bad value.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const read = (env: Record<string, string>) => loadConfig({ DISCORD_TOKEN: 'token', ...env }, '/srv');

describe('shard configuration', () => {
  it('asks Discord for the count and runs one shard per process unless told', () => {
    expect(read({})).toMatchObject({ shardCount: 'auto', shardsPerProcess: 1 });
    expect(read({ SHARD_COUNT: '', SHARDS_PER_PROCESS: '' })).toMatchObject({
      shardCount: 'auto',
      shardsPerProcess: 1,
    });
    expect(read({ SHARD_COUNT: ' auto ' }).shardCount).toBe('auto');
    expect(read({ SHARD_COUNT: '4', SHARDS_PER_PROCESS: '2' })).toMatchObject({
      shardCount: 4,
      shardsPerProcess: 2,
    });
  });

  it('refuses a SHARD_COUNT that is neither auto nor a whole number from 1', () => {
    for (const value of ['0', '-2', '2.5', 'AUTO', 'four', '1e2', '0x4', '04', '99999999']) {
      expect(() => read({ SHARD_COUNT: value })).toThrowError(
        /^SHARD_COUNT must be auto \(Discord recommends the count\) or a whole number of shards, such as 4$/,
      );
    }
  });

  it('refuses a SHARDS_PER_PROCESS that is not a whole number from 1', () => {
    for (const value of ['0', '-1', '1.5', 'auto', 'all']) {
      expect(() => read({ SHARDS_PER_PROCESS: value })).toThrowError(
        /^SHARDS_PER_PROCESS must be a whole number of shards from 1, such as 1 \(the default: one process per shard\)$/,
      );
    }
  });

  it('names both variables, one line each, when both are bad', () => {
    expect(() => read({ SHARD_COUNT: 'x', SHARDS_PER_PROCESS: 'y' })).toThrowError(
      /^SHARD_COUNT .*\nSHARDS_PER_PROCESS .*$/,
    );
  });
});
