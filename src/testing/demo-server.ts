// The testbed's server, as the sandbox's demo server: a few channels, roles and members to create tasks in,
// and the names a test uses for them (`#general`, `@Crew`, `@alice`) turned into the ids Discord sends.
import {
  type APIApplicationCommand,
  type APIApplicationCommandOption,
  ApplicationCommandOptionType,
} from 'discord-api-types/v10';
import type { GuildHandle, GuildSpec, OptionValue } from '#emulator';

/** The member who runs the testbed's /task commands: has Manage Server. */
export const ADMIN = 'demo-admin';

export const DEMO_SERVER: GuildSpec = {
  name: 'Demo Server',
  roles: [
    { name: 'Admins', permissions: ['ManageGuild'] },
    { name: 'Crew', mentionable: true },
  ],
  channels: [
    { name: 'general' },
    { name: 'announcements' },
    { name: 'stats', type: 'voice' },
    { name: 'ideas', type: 'forum', topic: 'One post per idea' },
  ],
  threads: [{ name: 'standups', parent: 'general' }],
  members: [
    { user: { username: ADMIN, globalName: 'Demo Admin' }, roles: ['Admins'] },
    { user: { username: 'alice' }, roles: ['Crew'] },
    { user: { username: 'bob' } },
  ],
};

/** `#general` or `general` → the channel's (or thread's) id; throws naming the server's channels. */
export function channelId(guild: GuildHandle, name: string): string {
  const bare = name.replace(/^#/, '');
  const id = guild.channels[bare] ?? guild.threads?.[bare];
  if (id !== undefined) return id;
  const known = [...Object.keys(guild.channels), ...Object.keys(guild.threads ?? {})].map((n) => `#${n}`);
  throw new Error(`The demo server has no channel ${name}; it has ${known.join(', ')}.`);
}

function roleId(guild: GuildHandle, name: string): string | undefined {
  return guild.roles[name.replace(/^@/, '')];
}

function memberId(guild: GuildHandle, name: string): string | undefined {
  return guild.members[name.replace(/^@/, '')];
}

/** The options of `/task <path>` (`create qotd`, `info`) as registered, or undefined if there is no such path. */
export function commandOptions(
  definition: APIApplicationCommand | undefined,
  path: readonly string[],
): readonly APIApplicationCommandOption[] | undefined {
  let options: readonly APIApplicationCommandOption[] | undefined = definition?.options;
  for (const name of path) {
    const found = options?.find((option) => option.name === name);
    if (
      found?.type !== ApplicationCommandOptionType.Subcommand &&
      found?.type !== ApplicationCommandOptionType.SubcommandGroup
    ) {
      return undefined;
    }
    options = found.options ?? [];
  }
  return options;
}

/**
 * The values as Discord would send them: a channel option's `#name`, a role's `@name` and a user's `@name`
 * become ids (an id passes as it is). Other values are left alone; the bot validates them.
 */
export function resolveOptionValues(
  guild: GuildHandle,
  options: readonly APIApplicationCommandOption[],
  values: Readonly<Record<string, OptionValue>>,
): Record<string, OptionValue> {
  const resolved: Record<string, OptionValue> = {};
  for (const [key, value] of Object.entries(values)) {
    const type = options.find((option) => option.name === key)?.type;
    resolved[key] = typeof value === 'string' ? resolveMention(guild, key, type, value) : value;
  }
  return resolved;
}

function resolveMention(
  guild: GuildHandle,
  key: string,
  type: ApplicationCommandOptionType | undefined,
  value: string,
): string {
  if (type === ApplicationCommandOptionType.Channel)
    return value.startsWith('#') ? channelId(guild, value) : value;
  if (!value.startsWith('@')) return value;
  const role = type === ApplicationCommandOptionType.User ? undefined : roleId(guild, value);
  const member = type === ApplicationCommandOptionType.Role ? undefined : memberId(guild, value);
  const found =
    type === ApplicationCommandOptionType.Role
      ? role
      : type === ApplicationCommandOptionType.User
        ? member
        : type === ApplicationCommandOptionType.Mentionable
          ? (role ?? member)
          : value;
  if (found !== undefined) return found;
  const roles = Object.keys(guild.roles).map((n) => `@${n}`);
  const members = Object.keys(guild.members).map((n) => `@${n}`);
  throw new Error(
    `Option ${key}: the demo server has no ${type === ApplicationCommandOptionType.User ? 'member' : 'role or member'} ${value}; it has ${[...roles, ...members].join(', ')}.`,
  );
}
