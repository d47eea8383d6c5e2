import {
  type APIRequest,
  type BitFieldResolvable,
  Client,
  type ClientOptions,
  GatewayIntentBits,
  type GatewayIntentsString,
  Options,
  type RateLimitData,
  RESTEvents,
  type ResponseLike,
} from 'discord.js';
import type { BotMetrics } from '../metrics/metrics.js';

export interface CreateClientOptions {
  token: string;
  /** REST base without the version, e.g. `http://127.0.0.1:port/api`. Default: Discord's. */
  apiBase?: string;
  intents?: BitFieldResolvable<GatewayIntentsString, number>;
  restTimeoutMs?: number;
  restRetries?: number;
  /** The gateway shards this client runs, of `count` in all (default: discord.js's, from SHARDS/SHARD_COUNT). */
  shards?: { ids: readonly number[]; count: number };
  /** Skip the 5-second identify throttle between sessions: for tests against a local gateway. */
  testing?: boolean;
}

/**
 * What Metronome needs: guilds and channels, members (joins and leaves keep the member count; counters fetch
 * member lists), messages (for leaderboards).
 */
export const DEFAULT_INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMembers,
  GatewayIntentBits.GuildMessages,
];

/** How long the bot's own messages stay cached (the counter's message is edited in place while cached). */
export const OWN_MESSAGE_LIFETIME_SECONDS = 3_600;

/**
 * What the client caches, so memory follows the number of servers and channels, not of members or messages:
 * guilds, channels, roles and permission overwrites in full (tasks check channels and permissions); of the
 * members and users, only the bot's own (its permissions in a channel); of the messages, only the bot's own,
 * for an hour; no emojis, stickers, events, invites, bans, presences or voice states. Counters fetch the
 * members they count when they run (handlers/builtin/counter/members.ts), the leaderboard the members it
 * names; discord.js still keeps `guild.memberCount` from member events.
 */
export function cacheOptions(): Pick<ClientOptions, 'makeCache' | 'sweepers'> {
  return {
    makeCache: Options.cacheWithLimits({
      ...Options.DefaultMakeCacheSettings,
      GuildMemberManager: { maxSize: 0, keepOverLimit: (member) => member.id === member.client.user.id },
      UserManager: { maxSize: 0, keepOverLimit: (user) => user.id === user.client.user.id },
      MessageManager: {
        maxSize: 0,
        keepOverLimit: (message) => message.author.id === message.client.user.id,
      },
      // What GUILD_CREATE brings that Metronome never reads: thousands of servers' emojis and stickers add up.
      GuildEmojiManager: 0,
      GuildStickerManager: 0,
      GuildScheduledEventManager: 0,
      StageInstanceManager: 0,
      GuildInviteManager: 0,
      GuildBanManager: 0,
      AutoModerationRuleManager: 0,
      PresenceManager: 0,
      VoiceStateManager: 0,
      ReactionManager: 0,
    }),
    sweepers: {
      ...Options.DefaultSweeperSettings,
      messages: { interval: OWN_MESSAGE_LIFETIME_SECONDS, lifetime: OWN_MESSAGE_LIFETIME_SECONDS },
    },
  };
}

/**
 * Which rate limits reject with a RateLimitError instead of waiting: a channel edit's only. A rename's
 * 2-per-10-minutes sublimit (spent by anyone renaming the channel, not just us) can mean a wait of minutes
 * inside a run, past the task's timeout; the counter catches the error and holds the rename instead.
 * Every other route waits as before, and so does a global limit (about a second).
 */
export function rejectsOnRateLimit(data: RateLimitData): boolean {
  return !data.global && data.method.toUpperCase() === 'PATCH' && data.route === '/channels/:id';
}

/**
 * The one place the bot's discord.js Client is configured. With `apiBase`, discord.js finds the gateway
 * through GET /gateway/bot on that base, so nothing else needs to know where Discord is.
 * Call `client.login()` to connect: the token is already set.
 */
export function createClient(options: CreateClientOptions): Client {
  const client = new Client({
    intents: options.intents ?? DEFAULT_INTENTS,
    ...cacheOptions(),
    rest: {
      rejectOnRateLimit: rejectsOnRateLimit,
      ...(options.apiBase !== undefined ? { api: options.apiBase } : {}),
      ...(options.restTimeoutMs !== undefined ? { timeout: options.restTimeoutMs } : {}),
      ...(options.restRetries !== undefined ? { retries: options.restRetries } : {}),
    },
    ...(options.shards !== undefined
      ? { shards: [...options.shards.ids], shardCount: options.shards.count }
      : {}),
    ...(options.testing
      ? { ws: { buildIdentifyThrottler: () => ({ waitForIdentify: async () => {} }) } }
      : {}),
  });
  client.token = options.token;
  return client;
}

const RATE_LIMIT_SCOPES: ReadonlySet<string> = new Set(['user', 'global', 'shared']);

/**
 * Counts Discord's 429 answers by method and route template. discord.js's `response` event names the route
 * as its rate-limit bucket template (`/channels/:id/messages`); any digits it left (an id it does not know)
 * become :id too, so no id ever becomes a label. Its `rateLimited` event is not used: it also fires when
 * discord.js waits before a request on its own, which Discord never refused.
 */
export function countRateLimits(client: Client, metrics: BotMetrics): () => void {
  const onResponse = (request: APIRequest, response: ResponseLike): void => {
    if (response.status !== 429) return;
    const scope = response.headers.get('x-ratelimit-scope') ?? 'user';
    metrics.rateLimited.inc({
      method: request.method.toUpperCase(),
      route: request.route.replace(/\d{5,}/g, ':id'),
      scope: RATE_LIMIT_SCOPES.has(scope) ? scope : 'other',
    });
  };
  client.rest.on(RESTEvents.Response, onResponse);
  return () => client.rest.off(RESTEvents.Response, onResponse);
}
