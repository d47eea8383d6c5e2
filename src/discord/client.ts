import {
  type BitFieldResolvable,
  Client,
  GatewayIntentBits,
  type GatewayIntentsString,
  type RateLimitData,
} from 'discord.js';

export interface CreateClientOptions {
  token: string;
  /** REST base without the version, e.g. `http://127.0.0.1:port/api`. Default: Discord's. */
  apiBase?: string;
  intents?: BitFieldResolvable<GatewayIntentsString, number>;
  restTimeoutMs?: number;
  restRetries?: number;
  /** Skip the 5-second identify throttle between sessions: for tests against a local gateway. */
  testing?: boolean;
}

/** What Metronome needs: guilds and channels, members (for counters), messages (for leaderboards). */
export const DEFAULT_INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMembers,
  GatewayIntentBits.GuildMessages,
];

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
    rest: {
      rejectOnRateLimit: rejectsOnRateLimit,
      ...(options.apiBase !== undefined ? { api: options.apiBase } : {}),
      ...(options.restTimeoutMs !== undefined ? { timeout: options.restTimeoutMs } : {}),
      ...(options.restRetries !== undefined ? { retries: options.restRetries } : {}),
    },
    ...(options.testing
      ? { ws: { buildIdentifyThrottler: () => ({ waitForIdentify: async () => {} }) } }
      : {}),
  });
  client.token = options.token;
  return client;
}
