// The counter's member counts, without caching every member (createClient limits the member cache).
// {members} is the server's member count: exact from the gateway when the bot hears joins and leaves (the
// Server Members intent, which Metronome asks for), else Discord's REST count. {humans}, {bots} and
// {role:<id>} count the member list Discord sends (gateway REQUEST_GUILD_MEMBERS) when such a counter runs,
// chunk by chunk as it arrives; only the tally is kept, for MEMBER_LIST_REUSE_MS, so several counters of one
// server due together fetch once. Nothing is fetched for a server without such a counter.
import { GatewayIntentBits, type Guild } from 'discord.js';
import { visitAllMembers } from '../../members.js';

/** How long one fetched member list (or REST member count) serves every counter of its server. */
export const MEMBER_LIST_REUSE_MS = 60_000;

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

async function fetchAndTally(guild: Guild): Promise<MemberTally> {
  const tally = { humans: 0, bots: 0, roles: new Map<string, number>() };
  // A chunk is at most 1,000 members, counted as it arrives: no list of every member is ever held.
  await visitAllMembers(guild, (members) => {
    for (const member of members) {
      if (member.user.bot) tally.bots++;
      else tally.humans++;
      for (const id of member.roles) tally.roles.set(id, (tally.roles.get(id) ?? 0) + 1);
    }
  });
  return tally;
}
