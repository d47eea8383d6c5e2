// The kind options of `/task create <kind>`: read from the interaction by the names and types the handler
// declared in slashOptions, then validated by the handler's zod schema.
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import type { ChatInputCommandInteraction, Guild } from 'discord.js';
import { type APIApplicationCommandBasicOption, ApplicationCommandOptionType } from 'discord-api-types/v10';
import type { Handler } from '../handlers/define.js';
import { isOtherServersChannel, notThisServersChannel } from './channel-permissions.js';
import type { Parsed } from './input.js';

const declared = new WeakMap<Handler, APIApplicationCommandBasicOption[]>();

/** The slash options a handler declares (its own, without the common ones), built once per handler. */
export function handlerSlashOptions(handler: Handler): APIApplicationCommandBasicOption[] {
  let options = declared.get(handler);
  if (!options) {
    const builder = new SlashCommandSubcommandBuilder()
      .setName(handler.kind)
      .setDescription(handler.description);
    options = ((handler.slashOptions?.(builder) ?? builder).toJSON().options ??
      []) as APIApplicationCommandBasicOption[];
    declared.set(handler, options);
  }
  return options;
}

/** The values given for the handler's options; users, roles, channels and mentionables become ids. */
export function collectHandlerOptions(
  interaction: ChatInputCommandInteraction,
  handler: Handler,
): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  const { options } = interaction;
  for (const option of handlerSlashOptions(handler)) {
    const name = option.name;
    let value: unknown;
    switch (option.type) {
      case ApplicationCommandOptionType.String:
        value = options.getString(name);
        break;
      case ApplicationCommandOptionType.Integer:
        value = options.getInteger(name);
        break;
      case ApplicationCommandOptionType.Number:
        value = options.getNumber(name);
        break;
      case ApplicationCommandOptionType.Boolean:
        value = options.getBoolean(name);
        break;
      case ApplicationCommandOptionType.User:
        value = options.getUser(name)?.id;
        break;
      case ApplicationCommandOptionType.Role:
        value = options.getRole(name)?.id;
        break;
      case ApplicationCommandOptionType.Channel:
        value = options.getChannel(name)?.id;
        break;
      case ApplicationCommandOptionType.Mentionable:
        value = options.get(name)?.value;
        break;
      default:
        value = options.get(name)?.value;
    }
    if (value !== null && value !== undefined) values[name] = value;
  }
  return values;
}

/**
 * Validates with the handler's schema; the first problem becomes one sentence naming the option. With
 * `guild`, a role or channel option must also be one of that server's: Discord's own clients offer no other,
 * but a forged interaction can name any id, and a task must never ping or post outside its server.
 */
export function validateHandlerOptions(
  handler: Handler,
  raw: Record<string, unknown>,
  guild?: Guild,
): Parsed<Record<string, unknown>> {
  if (guild) {
    const foreign = foreignOption(handler, raw, guild);
    if (foreign) return { ok: false, error: foreign };
  }
  const result = handler.options.safeParse(raw);
  if (result.success) {
    const value = result.data;
    return {
      ok: true,
      value: typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {},
    };
  }
  const issue = result.error.issues[0];
  const option = issue?.path.length ? String(issue.path[0]) : undefined;
  const why = sentenceCase(issue?.message ?? 'is not valid');
  return {
    ok: false,
    error: option
      ? `The \`${option}\` option is not valid for a ${handler.kind} task: ${why}`
      : `Those options are not valid for a ${handler.kind} task: ${why}`,
  };
}

/** The sentence for a role or channel option that is not `guild`'s, if any. */
function foreignOption(handler: Handler, raw: Record<string, unknown>, guild: Guild): string | undefined {
  for (const option of handlerSlashOptions(handler)) {
    const id = raw[option.name];
    if (typeof id !== 'string') continue;
    if (option.type === ApplicationCommandOptionType.Role) {
      // discord.js files a role an interaction names under the interaction's server, even another server's:
      // a role the bot knows in another server it is in is that server's.
      const elsewhere = guild.client.guilds.cache.some(
        (other) => other.id !== guild.id && other.roles.cache.has(id),
      );
      if (elsewhere || (id !== guild.id && !guild.roles.cache.has(id)))
        return `The \`${option.name}\` option is not a role of this server; pick one of this server's roles.`;
    }
    if (option.type === ApplicationCommandOptionType.Channel && isOtherServersChannel(guild, id)) {
      return notThisServersChannel(id);
    }
  }
  return undefined;
}

function sentenceCase(message: string): string {
  const text = message.trim();
  const first = text.charAt(0).toLowerCase() + text.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}
