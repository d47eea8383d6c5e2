// Sharding as Discord does it: which shard owns a guild, what IDENTIFY's `shard` may say, and the session
// start limit GET /gateway/bot reports. Plain functions and one counter; the gateway applies them.
import type { APIGatewaySessionStartLimit } from 'discord-api-types/v10';

/** `[shard_id, num_shards]`, as IDENTIFY sends it and READY echoes it. */
export type ShardTuple = readonly [id: number, count: number];

/** Discord refuses (4011) a shard count that leaves one shard with more guilds than this. */
export const DEFAULT_MAX_GUILDS_PER_SHARD = 2_500;
/** What Discord's `shards` in GET /gateway/bot recommends: one shard per this many guilds. */
export const GUILDS_PER_RECOMMENDED_SHARD = 1_000;

/** Discord's formula: `(guild_id >> 22) % num_shards`. DMs (no guild) belong to shard 0. */
export function shardOfGuild(guildId: string | null, shardCount: number): number {
  if (guildId === null) return 0;
  return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

/** The shard an IDENTIFY asks for: absent means `[0, 1]`; null when it is not a valid shard (close 4010). */
export function parseShard(value: unknown): ShardTuple | null {
  if (value === undefined || value === null) return [0, 1];
  if (!Array.isArray(value) || value.length !== 2) return null;
  const [id, count] = value as unknown[];
  if (!Number.isInteger(id) || !Number.isInteger(count)) return null;
  if ((count as number) < 1 || (id as number) < 0 || (id as number) >= (count as number)) return null;
  return [id as number, count as number];
}

/** The most guilds any one shard would hold among `guildIds` if they were split into `shardCount` shards. */
export function busiestShardLoad(guildIds: readonly string[], shardCount: number): number {
  // A Map, not an array: the count comes from the client and may be absurdly large.
  const loads = new Map<number, number>();
  let busiest = 0;
  for (const id of guildIds) {
    const shard = shardOfGuild(id, shardCount);
    const load = (loads.get(shard) ?? 0) + 1;
    loads.set(shard, load);
    busiest = Math.max(busiest, load);
  }
  return busiest;
}

/** Discord's recommended shard count for a bot in `guildCount` guilds: at least 1. */
export function recommendedShardCount(guildCount: number): number {
  return Math.max(1, Math.ceil(guildCount / GUILDS_PER_RECOMMENDED_SHARD));
}

export interface SessionStartLimitOptions {
  /** IDENTIFYs allowed per window. Default 1,000, as Discord gives an ordinary bot. */
  total?: number;
  /**
   * Shards that may IDENTIFY in the same 5 s. Default 1, as Discord gives a bot below 150,000 guilds;
   * discord.js then spaces its shards' IDENTIFYs 5 s apart, so a test with several shards should raise it.
   */
  maxConcurrency?: number;
  /** Length of the window. Default 24 hours, as on Discord. */
  windowMs?: number;
}

/** Counts IDENTIFYs against Discord's daily session start limit (the emulator reports it, never refuses). */
export class SessionStartLimit {
  readonly total: number;
  readonly maxConcurrency: number;
  readonly windowMs: number;
  #used = 0;
  #windowStart: number | null = null;

  constructor(options: SessionStartLimitOptions = {}) {
    this.total = options.total ?? 1_000;
    this.maxConcurrency = options.maxConcurrency ?? 1;
    this.windowMs = options.windowMs ?? 24 * 60 * 60_000;
    if (!Number.isInteger(this.total) || this.total < 1)
      throw new Error('sessionStartLimit.total must be ≥ 1');
    if (!Number.isInteger(this.maxConcurrency) || this.maxConcurrency < 1)
      throw new Error('sessionStartLimit.maxConcurrency must be ≥ 1');
  }

  /** One IDENTIFY: the window starts at the first one and resets once it has passed. */
  take(now: number = Date.now()): void {
    this.#roll(now);
    this.#windowStart ??= now;
    this.#used++;
  }

  /** The `session_start_limit` object of GET /gateway/bot, as of `now`. */
  info(now: number = Date.now()): APIGatewaySessionStartLimit {
    this.#roll(now);
    return {
      total: this.total,
      remaining: Math.max(0, this.total - this.#used),
      reset_after: this.#windowStart === null ? this.windowMs : this.#windowStart + this.windowMs - now,
      max_concurrency: this.maxConcurrency,
    };
  }

  #roll(now: number): void {
    if (this.#windowStart !== null && now >= this.#windowStart + this.windowMs) {
      this.#windowStart = null;
      this.#used = 0;
    }
  }
}
