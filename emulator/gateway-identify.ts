// What IDENTIFY may ask for, checked in Discord's order: token, intents, privileged intents, shard, and
// whether the shard count is enough for the bot's guilds. The gateway closes with the code this returns.
import { GatewayCloseCodes, GatewayIntentBits } from 'discord-api-types/v10';
import { busiestShardLoad, parseShard, type ShardTuple } from './shards.js';

/** Intents Discord refuses (close 4014) unless they are enabled for the application. */
export const PRIVILEGED_INTENTS =
  GatewayIntentBits.GuildMembers | GatewayIntentBits.GuildPresences | GatewayIntentBits.MessageContent;

/** IDENTIFY's large_threshold: default 50, between 50 and 250, as on Discord. */
const LARGE_THRESHOLD = { default: 50, min: 50, max: 250 } as const;

export interface IdentifyRules {
  token: string;
  /** Privileged intents enabled for the bot (Developer Portal), as a bitfield. */
  enabledPrivilegedIntents: number;
  maxGuildsPerShard: number;
  /** Every guild the bot is in, for the 4011 check. */
  botGuildIds: readonly string[];
  reportUnexpected: (description: string) => void;
}

export type IdentifyOutcome =
  | { accepted: true; intents: number; shard: ShardTuple; largeThreshold: number }
  | { accepted: false; code: GatewayCloseCodes; reason: string };

const refuse = (code: GatewayCloseCodes, reason: string): IdentifyOutcome => ({
  accepted: false,
  code,
  reason,
});

export function checkIdentify(d: unknown, rules: IdentifyRules): IdentifyOutcome {
  const identify = isRecord(d) ? d : {};
  if (identify.token !== rules.token)
    return refuse(GatewayCloseCodes.AuthenticationFailed, 'Authentication failed');
  if (typeof identify.intents !== 'number')
    return refuse(GatewayCloseCodes.InvalidIntents, 'Invalid intent(s)');
  if (identify.intents & PRIVILEGED_INTENTS & ~rules.enabledPrivilegedIntents)
    return refuse(GatewayCloseCodes.DisallowedIntents, 'Disallowed intent(s)');
  const shard = parseShard(identify.shard);
  if (!shard) return refuse(GatewayCloseCodes.InvalidShard, 'Invalid shard');
  if (busiestShardLoad(rules.botGuildIds, shard[1]) > rules.maxGuildsPerShard)
    return refuse(GatewayCloseCodes.ShardingRequired, 'Sharding required');
  return {
    accepted: true,
    intents: identify.intents,
    shard,
    largeThreshold: largeThreshold(identify.large_threshold, rules.reportUnexpected),
  };
}

/** IDENTIFY's large_threshold, kept within Discord's 50–250 (a value outside is reported, then clamped). */
function largeThreshold(value: unknown, reportUnexpected: (description: string) => void): number {
  if (value === undefined) return LARGE_THRESHOLD.default;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    reportUnexpected(`IDENTIFY large_threshold is not an integer: ${String(value)}`);
    return LARGE_THRESHOLD.default;
  }
  if (value < LARGE_THRESHOLD.min || value > LARGE_THRESHOLD.max)
    reportUnexpected(`IDENTIFY large_threshold ${value} is outside 50–250`);
  return Math.min(LARGE_THRESHOLD.max, Math.max(LARGE_THRESHOLD.min, value));
}

/** The shard an IDENTIFY payload asks for (see parseShard), as a test reads it back from a frame. */
export function parseShardOf(d: unknown): ShardTuple | null {
  return parseShard(isRecord(d) ? d.shard : undefined);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
