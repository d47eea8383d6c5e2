// Members fetched from Discord when a handler needs them: the client caches only the bot's own member
// (createClient), so a handler that counts or names members asks Discord over the gateway
// (REQUEST_GUILD_MEMBERS), only when it runs: through discord.js's members.fetch for the members it names,
// and chunk by chunk, keeping none, for a whole server it only counts.
import {
  type APIGuildMember,
  type Collection,
  DiscordjsErrorCodes,
  GatewayDispatchEvents,
  type GatewayGuildMembersChunkDispatchData,
  GatewayOpcodes,
  type GatewayRateLimitedRequestGuildMembersDispatchData,
  type Guild,
  type GuildMember,
  SnowflakeUtil,
} from 'discord.js';
import { TransientError } from '../loop/index.js';

/** How long Discord may take to send the members asked for before the run is retried. */
export const MEMBER_FETCH_TIMEOUT_MS = 60_000;

/**
 * The server's members (all of them, or those of `userIds` who are still members). A late answer, or
 * Discord's limit on member requests, is passing: a TransientError, so the run retries with backoff.
 */
export async function fetchMembers(
  guild: Guild,
  userIds?: readonly string[],
): Promise<Collection<string, GuildMember>> {
  try {
    return await guild.members.fetch({
      ...(userIds !== undefined ? { user: [...userIds] } : {}),
      time: MEMBER_FETCH_TIMEOUT_MS,
    });
  } catch (error) {
    const why =
      (error as { code?: unknown }).code === DiscordjsErrorCodes.GuildMembersTimeout
        ? `within ${MEMBER_FETCH_TIMEOUT_MS / 1_000} s`
        : `(${error instanceof Error ? error.message : String(error)})`;
    throw new TransientError(`Discord did not send the server's members ${why}`, { cause: error });
  }
}

export interface VisitMembersOptions {
  /** How long Discord may go without sending the next chunk; default MEMBER_FETCH_TIMEOUT_MS. */
  timeoutMs?: number;
}

/**
 * Every member of the server, handed to `visit` as Discord sends them (chunks of up to 1,000, as the API
 * objects of the GUILD_MEMBERS_CHUNK dispatch), none kept. discord.js's members.fetch() would build one
 * collection of every member before returning it: over 100,000 members, V8 collecting that collection held
 * the event loop for 80–170 ms. A late answer, or Discord's limit on member requests, is a TransientError.
 */
export function visitAllMembers(
  guild: Guild,
  visit: (members: readonly APIGuildMember[]) => void,
  options: VisitMembersOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? MEMBER_FETCH_TIMEOUT_MS;
  // The raw dispatches, which discord.js's WebSocketManager emits by name before building any member.
  const gateway = guild.client.ws;
  const nonce = SnowflakeUtil.generate().toString();
  return new Promise((resolve, reject) => {
    let received = 0;
    const finish = (error?: unknown) => {
      clearTimeout(timeout);
      gateway.off(GatewayDispatchEvents.GuildMembersChunk, onChunk);
      gateway.off(GatewayDispatchEvents.RateLimited, onRateLimited);
      // One listener pair per server being counted: many at once are expected, not a leak.
      if (gateway.getMaxListeners() !== 0) gateway.setMaxListeners(gateway.getMaxListeners() - 1);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onChunk = (chunk: GatewayGuildMembersChunkDispatchData) => {
      if (chunk.nonce !== nonce) return;
      timeout.refresh();
      try {
        visit(chunk.members);
      } catch (error) {
        finish(error);
        return;
      }
      if (++received >= chunk.chunk_count) finish();
    };
    const onRateLimited = (limited: GatewayRateLimitedRequestGuildMembersDispatchData) => {
      if (limited.opcode !== GatewayOpcodes.RequestGuildMembers || limited.meta.nonce !== nonce) return;
      finish(
        new TransientError(
          `Discord limits requests for a server's members: it asked to wait ${limited.retry_after} s`,
        ),
      );
    };
    const timeout = setTimeout(() => {
      finish(new TransientError(`Discord did not send the server's members within ${timeoutMs / 1_000} s`));
    }, timeoutMs);
    if (gateway.getMaxListeners() !== 0) gateway.setMaxListeners(gateway.getMaxListeners() + 1);
    gateway.on(GatewayDispatchEvents.GuildMembersChunk, onChunk);
    gateway.on(GatewayDispatchEvents.RateLimited, onRateLimited);
    guild.shard.send({
      op: GatewayOpcodes.RequestGuildMembers,
      d: { guild_id: guild.id, query: '', limit: 0, nonce },
    });
  });
}
