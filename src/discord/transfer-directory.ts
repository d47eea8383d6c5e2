// The ServerDirectory of a real server, for /task export and /task import: channels and roles from the bot's
// cache, which holds them all; members fetched from Discord, only those the tasks or the file name, as the
// client caches no member but the bot's own (createClient).
import {
  type Collection,
  DiscordAPIError,
  DiscordjsErrorCodes,
  GatewayRateLimitError,
  type Guild,
  type GuildMember,
  HTTPError,
  RESTJSONErrorCodes,
} from 'discord.js';
import { ChannelType } from 'discord-api-types/v10';
import { fail, ok, type Parsed } from './input.js';
import type { MemberQuery, NameLookup, ServerDirectory } from './transfer.js';

/** Discord answers a member request in well under this; past it the admin hears why rather than waiting. */
export const MEMBER_LOOKUP_TIMEOUT_MS = 10_000;
/** Discord's most user ids in one member request. */
const IDS_PER_REQUEST = 100;
/** Discord's most members answering one username query (a prefix, so the exact name is picked after). */
const MEMBERS_PER_QUERY = 100;
const SNOWFLAKE = /^\d{17,20}$/;

/**
 * The directory of a server: channels and roles as the bot's cache holds them; members, only those `query`
 * names, fetched from Discord (gateway REQUEST_GUILD_MEMBERS): by id, at most 100 a request, with the
 * usernames of users who left from the REST user; or one username query each. A fetch that fails is one
 * sentence for the admin.
 */
export async function guildDirectory(
  guild: Guild,
  query: MemberQuery,
  timeoutMs = MEMBER_LOOKUP_TIMEOUT_MS,
): Promise<Parsed<ServerDirectory>> {
  const cached = cachedDirectory(guild);
  let members: Map<string, GuildMember>;
  let formerNames = new Map<string, string>();
  try {
    if ('ids' in query) {
      // A role id is never a user's (snowflakes are unique), and a value that is no snowflake names no one.
      const ids = [...new Set(query.ids)].filter(
        (id) => SNOWFLAKE.test(id) && cached.roleName(id) === undefined,
      );
      members = await fetchByIds(guild, ids, timeoutMs);
      formerNames = await usernamesOf(
        guild,
        ids.filter((id) => !members.has(id)),
      );
    } else {
      const names = [
        ...query.names,
        ...(query.orRoles ?? []).filter((name) => 'missing' in cached.roleByName(name)),
      ];
      members = await fetchByNames(guild, names, timeoutMs);
    }
  } catch (error) {
    return fail(memberLookupFailed(error));
  }
  return ok({
    ...cached,
    memberName: (id) => members.get(id)?.user.username,
    formerMemberName: (id) => formerNames.get(id),
    memberByName: (name) => byName(members.values(), (member) => member.user.username, name),
  });
}

/** Channels and roles from the bot's cache (it holds them all); no members. */
function cachedDirectory(guild: Guild): ServerDirectory {
  return {
    channelName: (id) => guild.channels.cache.get(id)?.name,
    channelByName: (name, types) =>
      byName(
        guild.channels.cache
          .filter((channel) =>
            types === undefined ? channel.type !== ChannelType.GuildCategory : types.includes(channel.type),
          )
          .values(),
        (channel) => channel.name,
        name,
      ),
    roleName: (id) => (id === guild.id ? 'everyone' : guild.roles.cache.get(id)?.name),
    roleByName: (name) =>
      name === 'everyone'
        ? { id: guild.id }
        : byName(
            guild.roles.cache.filter((role) => role.id !== guild.id).values(),
            (role) => role.name,
            name,
          ),
    memberName: () => undefined,
    memberByName: () => ({ missing: true }),
  };
}

/** The items named `name`: exactly, else ignoring case (Discord shows text channel names in lower case, and people retype names loosely). */
function byName<T extends { id: string }>(items: Iterable<T>, nameOf: (item: T) => string, name: string) {
  const all = [...items];
  let found = all.filter((item) => nameOf(item) === name);
  if (found.length === 0) found = all.filter((item) => nameOf(item).toLowerCase() === name.toLowerCase());
  return lookupOf(found.map((item) => item.id));
}

/** Those of `ids` who are members, in requests of Discord's most ids each. */
async function fetchByIds(
  guild: Guild,
  ids: readonly string[],
  timeoutMs: number,
): Promise<Map<string, GuildMember>> {
  const requests: Promise<Collection<string, GuildMember>>[] = [];
  for (let start = 0; start < ids.length; start += IDS_PER_REQUEST)
    requests.push(guild.members.fetch({ user: ids.slice(start, start + IDS_PER_REQUEST), time: timeoutMs }));
  return merged(await Promise.all(requests));
}

/** The members whose usernames start with each name (Discord's query), for memberByName to pick from. */
async function fetchByNames(
  guild: Guild,
  names: readonly string[],
  timeoutMs: number,
): Promise<Map<string, GuildMember>> {
  // The query ignores case, so one request answers `Alice` and `alice`; an empty one would list everyone.
  const queries = new Set(names.map((name) => name.toLowerCase()).filter((name) => name !== ''));
  const answers = await Promise.all(
    [...queries].map((name) =>
      guild.members.fetch({ query: name, limit: MEMBERS_PER_QUERY, time: timeoutMs }),
    ),
  );
  return merged(answers);
}

function merged(collections: readonly Collection<string, GuildMember>[]): Map<string, GuildMember> {
  const all = new Map<string, GuildMember>();
  for (const collection of collections) for (const [id, member] of collection) all.set(id, member);
  return all;
}

/** The usernames of users who are not members, as Discord shows their mentions; unknown users are left out. */
async function usernamesOf(guild: Guild, ids: readonly string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  await Promise.all(
    ids.map(async (id) => {
      try {
        names.set(id, (await guild.client.users.fetch(id, { cache: false })).username);
      } catch (error) {
        if (!(error instanceof DiscordAPIError && error.code === RESTJSONErrorCodes.UnknownUser)) throw error;
      }
    }),
  );
  return names;
}

/** The sentence for a member lookup Discord did not answer; anything else is a bug and is thrown on. */
function memberLookupFailed(error: unknown): string {
  const lead = "I couldn't look up the members these tasks name";
  if (error instanceof GatewayRateLimitError)
    return `${lead}: Discord limits how often a bot may ask; try again in ${Math.ceil(error.data.retry_after)} seconds.`;
  const timedOut = (error as { code?: unknown }).code === DiscordjsErrorCodes.GuildMembersTimeout;
  const refused = error instanceof DiscordAPIError || error instanceof HTTPError;
  const aborted = error instanceof Error && error.name === 'AbortError';
  if (timedOut || aborted) return `${lead}: Discord didn't answer in time; try again in a moment.`;
  if (refused) return `${lead}: Discord answered with an error; try again in a moment.`;
  throw error;
}

function lookupOf(ids: readonly string[]): NameLookup {
  if (ids.length === 1) return { id: ids[0]! };
  return ids.length === 0 ? { missing: true } : { several: ids.length };
}
