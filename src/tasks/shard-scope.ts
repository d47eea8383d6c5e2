// Which servers' tasks one process runs when the bot's gateway shards are spread over several processes: the
// servers of its shards, by Discord's own formula, so a task runs in the process that receives its server's
// commands and events. Pure: no Discord, no database.

/** The shards one process holds, of `count` in all. */
export interface ShardScope {
  count: number;
  ids: readonly number[];
}

/** Ids Discord accepts as snowflakes: 64-bit unsigned integers written in decimal. */
const SNOWFLAKE = /^\d{1,20}$/;
const MAX_SNOWFLAKE = (1n << 64n) - 1n;

/**
 * The shard that receives a server's events: `(guild_id >> 22) % count` (Discord's "Sharding" formula, as
 * discord.js's ShardClientUtil.shardIdForGuildId). Exact for every 64-bit id, beyond 2^53 too.
 */
export function shardOfGuild(guildId: string, count: number): number {
  checkCount(count);
  if (!SNOWFLAKE.test(guildId) || BigInt(guildId) > MAX_SNOWFLAKE) {
    throw new RangeError(`A server id is a Discord snowflake (up to 20 digits), got "${guildId}".`);
  }
  // The top 42 bits (the timestamp) are below 2^42: a Number holds them exactly.
  return Number(BigInt(guildId) >> 22n) % count;
}

/** Throws a RangeError sentence unless `scope` names at least one shard, each once, each below its count. */
export function checkShardScope(scope: ShardScope): void {
  checkCount(scope.count);
  if (scope.ids.length === 0) throw new RangeError('A shard scope must hold at least one shard.');
  const seen = new Set<number>();
  for (const id of scope.ids) {
    if (!Number.isSafeInteger(id) || id < 0 || id >= scope.count) {
      throw new RangeError(
        `Shard ids run from 0 to ${scope.count - 1} for ${scope.count} shards, got ${id}.`,
      );
    }
    if (seen.has(id)) throw new RangeError(`Shard ${id} is named twice in the shard scope.`);
    seen.add(id);
  }
}

/** Whether the server belongs to one of the scope's shards. */
export function inShardScope(scope: ShardScope, guildId: string): boolean {
  return scope.ids.includes(shardOfGuild(guildId, scope.count));
}

/** The scope for logs: "shards 0, 2 of 4", "shard 1 of 2". */
export function describeScope(scope: ShardScope): string {
  const ids = [...scope.ids].sort((a, b) => a - b);
  return `${ids.length === 1 ? 'shard' : 'shards'} ${ids.join(', ')} of ${scope.count}`;
}

/** Whether the scope holds every shard, so it filters nothing. */
export function coversAllShards(scope: ShardScope): boolean {
  return scope.ids.length === scope.count;
}

function checkCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new RangeError(`The shard count must be a whole number of at least 1, got ${count}.`);
  }
}
