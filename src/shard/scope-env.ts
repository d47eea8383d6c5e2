// How the manager tells a child its shards: SHARDS (a JSON list of ids) and SHARD_COUNT, the variables
// discord.js's Client reads in a child of a ShardingManager.
import { checkShardScope, type ShardScope } from '../tasks/shard-scope.js';

/** The environment a child of `ids` of `count` gets (on top of the manager's own). */
export function scopeEnvironment(scope: ShardScope): { SHARDS: string; SHARD_COUNT: string } {
  return { SHARDS: JSON.stringify(scope.ids), SHARD_COUNT: String(scope.count) };
}

/** The scope a child was started with; throws a sentence if the manager's variables are missing or bad. */
export function scopeFromEnvironment(env: NodeJS.ProcessEnv): ShardScope {
  let ids: unknown;
  try {
    ids = JSON.parse(env.SHARDS ?? '');
  } catch {
    ids = undefined;
  }
  const count = Number(env.SHARD_COUNT);
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'number')) {
    throw new RangeError(
      `A shard process needs SHARDS, a JSON list of shard ids, from its manager; got ${JSON.stringify(env.SHARDS)}.`,
    );
  }
  const scope = { count, ids: ids as number[] };
  checkShardScope(scope);
  return scope;
}
