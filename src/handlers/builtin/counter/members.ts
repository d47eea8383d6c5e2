// The counter's member counts, without caching every member (createClient limits the member cache).
// {members} is the server's member count: exact from the gateway when the bot hears joins and leaves (the
// Server Members intent, which Metronome asks for), else Discord's REST count. {humans}, {bots} and
// {role:<id>} count a member list fetched from Discord (gateway REQUEST_GUILD_MEMBERS) when such a counter
// runs; only the tally is kept, for MEMBER_LIST_REUSE_MS, so several counters of one server due together
// fetch once. Nothing is fetched for a server without such a counter.
import { GatewayIntentBits, type Guild, type GuildMember } from 'discord.js';
import { fetchMembers } from '../../members.js';

/** How long one fetched member list (or REST member count) serves every counter of its server. */
export const MEMBER_LIST_REUSE_MS = 60_000;
/** Members counted between two turns of the event loop: a large server has hundreds of thousands. */
const MEMBERS_PER_SLICE = 5_000;

export interface MemberTally {
  humans: number;
  bots: number;
  /** Members per role id, for every role some member has (@everyone is not listed). */
  roles: ReadonlyMap<string, number>;
}

/** Values per server that stay good for MEMBER_LIST_REUSE_MS; a failed one is forgotten at once. */
class RecentPerGuild<T> {
  readonly #entries = new Map<string, { atMs: number; value: Promise<T> }>();

  get(guildId: string, make: () => Promise<T>): Promise<T> {
    const now = Date.now();
    // Dropped as they age, so the map holds only the servers counted in the last minute.
    for (const [id, entry] of this.#entries) {
      if (now - entry.atMs >= MEMBER_LIST_REUSE_MS) this.#entries.delete(id);
    }
    const recent = this.#entries.get(guildId);
    if (recent !== undefined) return recent.value;
    const value = make();
    this.#entries.set(guildId, { atMs: now, value });
    value.catch(() => {
      if (this.#entries.get(guildId)?.value === value) this.#entries.delete(guildId);
    });
    return value;
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** One bot's member counts for its counters (part of the counter's per-bot state). */
export class MemberCounts {
  readonly #tallies = new RecentPerGuild<MemberTally>();
  readonly #restCounts = new RecentPerGuild<number>();

  /** Humans, bots and members per role, from a member list fetched from Discord (or one under a minute old). */
  tally(guild: Guild): Promise<MemberTally> {
    return this.#tallies.get(guild.id, () => fetchAndTally(guild));
  }

  /**
   * The server's member count. discord.js keeps `guild.memberCount` exact from GUILD_CREATE and every
   * join and leave, but only when the bot gets member events (the Server Members intent); without them the
   * count is as old as the connection, so Discord's REST count (`with_counts`) is asked, once a minute at most.
   */
  async memberCount(guild: Guild): Promise<number> {
    if (guild.client.options.intents.has(GatewayIntentBits.GuildMembers)) return guild.memberCount;
    return this.#restCounts.get(guild.id, async () => {
      const fetched = await guild.fetch();
      return fetched.approximateMemberCount ?? fetched.memberCount;
    });
  }

  clear(): void {
    this.#tallies.clear();
    this.#restCounts.clear();
  }
}

/**
 * A member's role ids. discord.js keeps them in `_roles`; its public `member.roles.cache` filters every role
 * of the guild for each member, which over a large server costs seconds per counter. The public path stays as
 * the fallback.
 */
function roleIdsOf(member: GuildMember): readonly string[] {
  const own = (member as unknown as { _roles?: unknown })._roles;
  return Array.isArray(own) ? (own as string[]) : [...member.roles.cache.keys()];
}

async function fetchAndTally(guild: Guild): Promise<MemberTally> {
  const members = await fetchMembers(guild);
  const tally = { humans: 0, bots: 0, roles: new Map<string, number>() };
  let seen = 0;
  for (const member of members.values()) {
    if (member.user.bot) tally.bots++;
    else tally.humans++;
    for (const id of roleIdsOf(member)) tally.roles.set(id, (tally.roles.get(id) ?? 0) + 1);
    if (++seen % MEMBERS_PER_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return tally;
}
