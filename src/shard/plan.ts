// How many shards the bot runs and how they are spread over processes: SHARD_COUNT (or, for `auto`, the
// count Discord recommends in GET /gateway/bot), cut into groups of SHARDS_PER_PROCESS.
import { DiscordAPIError, REST, Routes } from 'discord.js';
import type { RESTGetAPIGatewayBotResult } from 'discord-api-types/v10';
import type { Config } from '../config.js';

/** What start-up decided: `count` shards, `groups[i]` the shard ids process i runs. */
export interface ShardPlan {
  count: number;
  groups: number[][];
  /** How many IDENTIFYs Discord accepts at once (session_start_limit.max_concurrency). */
  maxConcurrency: number;
}

/** What GET /gateway/bot says about sharding. */
export interface GatewayAdvice {
  shards: number;
  maxConcurrency: number;
}

/** The shards cut into processes of `perProcess` in order: 5 by 2 → [0, 1], [2, 3], [4]. */
export function shardGroups(count: number, perProcess: number): number[][] {
  const groups: number[][] = [];
  for (let first = 0; first < count; first += perProcess) {
    groups.push(Array.from({ length: Math.min(perProcess, count - first) }, (_, i) => first + i));
  }
  return groups;
}

/**
 * Asks Discord (DISCORD_API_BASE when set: discord.js's own fetchRecommendedShardCount always asks
 * discord.com) for its recommended shard count and identify concurrency. A refused token rejects with a
 * DiscordAPIError of status 401.
 */
export async function fetchGatewayAdvice(
  config: Pick<Config, 'discordToken' | 'discordApiBase'>,
): Promise<GatewayAdvice> {
  const rest = new REST(config.discordApiBase === undefined ? {} : { api: config.discordApiBase });
  rest.setToken(config.discordToken);
  const answer = (await rest.get(Routes.gatewayBot())) as RESTGetAPIGatewayBotResult;
  return { shards: answer.shards, maxConcurrency: answer.session_start_limit.max_concurrency };
}

/** Whether an error from fetchGatewayAdvice means Discord refused the token. */
export function isTokenRefused(error: unknown): boolean {
  return error instanceof DiscordAPIError && error.status === 401;
}

/**
 * The plan for this start. SHARD_COUNT=auto asks Discord; a fixed count asks only when it needs more than one
 * process, for the identify concurrency that paces their start.
 */
export async function planShards(
  config: Pick<Config, 'discordToken' | 'discordApiBase' | 'shardCount' | 'shardsPerProcess'>,
  ask: typeof fetchGatewayAdvice = fetchGatewayAdvice,
): Promise<ShardPlan> {
  const fixed = config.shardCount === 'auto' ? undefined : config.shardCount;
  if (fixed !== undefined && fixed <= config.shardsPerProcess) {
    return { count: fixed, groups: shardGroups(fixed, config.shardsPerProcess), maxConcurrency: 1 };
  }
  const advice = await ask(config);
  const count = fixed ?? Math.max(1, advice.shards);
  return {
    count,
    groups: shardGroups(count, config.shardsPerProcess),
    maxConcurrency: Math.max(1, advice.maxConcurrency),
  };
}
