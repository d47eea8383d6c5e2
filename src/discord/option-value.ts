// A kind's option as text: what an admin types turned into the value the kind stores (checked against what
// its slash option allows, as Discord checks it at create), a stored value shown back, and the autocomplete
// choices for typing one. Used by /task edit, whose option + value pair reaches any kind's options.
import {
  type APIApplicationCommandBasicOption,
  type ApplicationCommandOptionChoiceData,
  ApplicationCommandOptionType,
  type Guild,
} from 'discord.js';
import { fail, ok, type Parsed } from './input.js';
import { MAX_CHOICES } from './task-command.js';

type KindOption = APIApplicationCommandBasicOption;

/** Discord's limit for a choice's name and a string choice's value. */
export const MAX_CHOICE_LENGTH = 100;

/** Typed text → the value the kind stores for this option, checked against what its slash option allows. */
export function parseOptionValue(guild: Guild, option: KindOption, input: string): Parsed<unknown> {
  const text = input.trim();
  const named = `\`${option.name}\``;
  let value: unknown;
  switch (option.type) {
    case ApplicationCommandOptionType.String:
      value = text;
      if (option.min_length !== undefined && text.length < option.min_length) {
        return fail(`${named} must be at least ${option.min_length} characters.`);
      }
      if (option.max_length !== undefined && text.length > option.max_length) {
        return fail(`${named} can be at most ${option.max_length} characters.`);
      }
      break;
    case ApplicationCommandOptionType.Integer:
    case ApplicationCommandOptionType.Number: {
      const number = /^[-+]?\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
      const integer = option.type === ApplicationCommandOptionType.Integer;
      if (Number.isNaN(number) || (integer && !Number.isInteger(number))) {
        return fail(`${named} takes a ${integer ? 'whole ' : ''}number, like ${option.min_value ?? 5}.`);
      }
      if (option.min_value !== undefined && number < option.min_value)
        return fail(`${named} must be at least ${option.min_value}.`);
      if (option.max_value !== undefined && number > option.max_value)
        return fail(`${named} can be at most ${option.max_value}.`);
      value = number;
      break;
    }
    case ApplicationCommandOptionType.Boolean: {
      const yes = ['true', 'yes', 'on'].includes(text.toLowerCase());
      if (!yes && !['false', 'no', 'off'].includes(text.toLowerCase()))
        return fail(`${named} takes true or false.`);
      value = yes;
      break;
    }
    case ApplicationCommandOptionType.Role:
    case ApplicationCommandOptionType.Mentionable: {
      const id =
        /^(?:<@&)?(\d{17,20})>?$/.exec(text)?.[1] ??
        guild.roles.cache.find((role) => role.name.toLowerCase() === text.replace(/^@/, '').toLowerCase())
          ?.id;
      const user = /^(?:<@!?)?(\d{17,20})>?$/.exec(text)?.[1];
      if (id !== undefined && guild.roles.cache.has(id)) value = id;
      else if (option.type === ApplicationCommandOptionType.Mentionable && user !== undefined) value = user;
      else
        return fail(
          `${named} takes a role of this server, like @${guild.roles.cache.find((r) => r.id !== guild.id)?.name ?? 'Members'}; pick one from the list.`,
        );
      break;
    }
    case ApplicationCommandOptionType.User: {
      const id = /^(?:<@!?)?(\d{17,20})>?$/.exec(text)?.[1];
      if (id === undefined)
        return fail(`${named} takes a member, like <@${guild.ownerId}>; pick one from the list.`);
      value = id;
      break;
    }
    case ApplicationCommandOptionType.Channel: {
      const id = /^(?:<#)?(\d{17,20})>?$/.exec(text)?.[1];
      if (id === undefined || !guild.channels.cache.has(id)) {
        return fail(`${named} takes a channel of this server; pick one from the list.`);
      }
      value = id;
      break;
    }
    default:
      return fail(`${named} can't be set here; create the task again to change it.`);
  }
  if (
    'choices' in option &&
    option.choices?.length &&
    !option.choices.some((choice) => choice.value === value)
  ) {
    return fail(
      `${named} must be one of ${option.choices.map((choice) => `\`${choice.value}\``).join(', ')}.`,
    );
  }
  return ok(value);
}

export function optionValueChoices(
  guild: Guild,
  option: KindOption,
  current: unknown,
  typed: string,
): ApplicationCommandOptionChoiceData[] {
  const choices: ApplicationCommandOptionChoiceData[] = [];
  if (current !== undefined && String(current).length <= MAX_CHOICE_LENGTH) {
    choices.push({
      name: cut(`current: ${showOptionValue(guild, option, current)}`),
      value: String(current),
    });
  }
  const lower = typed.toLowerCase();
  if ('choices' in option && option.choices?.length) {
    for (const choice of option.choices) {
      if (choice.name.toLowerCase().includes(lower) || String(choice.value).includes(lower)) {
        choices.push({ name: cut(choice.name), value: String(choice.value) });
      }
    }
  } else if (
    option.type === ApplicationCommandOptionType.Role ||
    option.type === ApplicationCommandOptionType.Mentionable
  ) {
    for (const role of guild.roles.cache.values()) {
      if (role.name.toLowerCase().includes(lower.replace(/^@/, '')))
        choices.push({ name: cut(`@${role.name}`), value: role.id });
    }
  } else if (option.type === ApplicationCommandOptionType.Channel) {
    for (const channel of guild.channels.cache.values()) {
      if (channel.name.toLowerCase().includes(lower.replace(/^#/, '')))
        choices.push({ name: cut(`#${channel.name}`), value: channel.id });
    }
  } else if (option.type === ApplicationCommandOptionType.Boolean) {
    choices.push({ name: 'true', value: 'true' }, { name: 'false', value: 'false' });
  } else if (typed !== '' && typed.length <= MAX_CHOICE_LENGTH) {
    choices.push({ name: cut(`new: ${typed}`), value: typed });
  }
  return dedupe(choices).slice(0, MAX_CHOICES);
}

/** A stored value as an admin reads it: roles and channels by name, long text cut. */
export function showOptionValue(guild: Guild, option: KindOption, value: unknown): string {
  if (value === undefined) return 'not set';
  const id = String(value);
  if (option.type === ApplicationCommandOptionType.Role) return `@${guild.roles.cache.get(id)?.name ?? id}`;
  if (option.type === ApplicationCommandOptionType.Channel)
    return `#${guild.channels.cache.get(id)?.name ?? id}`;
  return String(value).replace(/\s+/g, ' ');
}

/** A choice's name or value within Discord's 100 characters. */
export function cut(text: string): string {
  return text.length <= MAX_CHOICE_LENGTH ? text : `${text.slice(0, MAX_CHOICE_LENGTH - 1)}…`;
}

/** Discord shows repeated values as repeated lines: keep the first of each. */
export function dedupe(choices: ApplicationCommandOptionChoiceData[]): ApplicationCommandOptionChoiceData[] {
  const seen = new Set<unknown>();
  return choices.filter((choice) => !seen.has(choice.value) && seen.add(choice.value));
}

/** Autocomplete for free text: the current value (when it fits a choice), then what was typed. */
export function currentFirst(
  label: string,
  current: string | undefined,
  typed: string,
): ApplicationCommandOptionChoiceData[] {
  const choices: ApplicationCommandOptionChoiceData[] = [];
  const typedFits = typed !== '' && typed.length <= MAX_CHOICE_LENGTH;
  if (current !== undefined && current !== '' && current.length <= MAX_CHOICE_LENGTH) {
    choices.push({ name: cut(label), value: current });
  } else if (current !== undefined && typedFits) {
    // Longer than a choice may be: shown for reading, and picking it keeps what was typed.
    choices.push({ name: cut(`(${current.length} characters, too long to pick) ${label}`), value: typed });
  }
  if (typedFits && typed !== current) choices.push({ name: cut(`new: ${typed}`), value: typed });
  return dedupe(choices);
}

/** Autocomplete for a number: the current value, then what was typed. */
export function currentNumberFirst(
  current: number | undefined,
  label: string,
  typed: string,
): ApplicationCommandOptionChoiceData[] {
  const choices: ApplicationCommandOptionChoiceData[] = [];
  if (current !== undefined) choices.push({ name: cut(label), value: current });
  const number = Number(typed);
  if (typed !== '' && Number.isFinite(number) && number !== current)
    choices.push({ name: `new: ${number}`, value: number });
  return choices;
}
