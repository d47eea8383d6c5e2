// Members fetched from Discord when a handler needs them: the client caches only the bot's own member
// (createClient), so a handler that counts or names members asks Discord over the gateway
// (REQUEST_GUILD_MEMBERS, which discord.js's members.fetch sends), only when it runs.
import { type Collection, DiscordjsErrorCodes, type Guild, type GuildMember } from 'discord.js';
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
