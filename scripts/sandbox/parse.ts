// What the sandbox prompt understands: `/task create reminder name:standup every:10s message:"Hi there"`.
// Words split on spaces outside quotes; `key:value` words are options, the others name the subcommand.
import { type APIApplicationCommand, ApplicationCommandOptionType } from 'discord-api-types/v10';
import type { GuildHandle, OptionValue } from '../../emulator/index.js';

export interface ParsedCommand {
  command: string;
  group?: string;
  subcommand?: string;
  options: Record<string, OptionValue>;
}

export type ParseResult = { ok: true; value: ParsedCommand } | { ok: false; error: string };

/** Uploads a local file for an attachment option (`file:./tasks.json`): its attachment id, or why not. */
export type AttachFile = (path: string) => { ok: true; id: string } | { ok: false; error: string };

/** Splits on whitespace outside single or double quotes; quotes are removed, `\"` keeps a quote. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (char === '\\' && quote !== null && i + 1 < line.length) {
      word += line[++i];
    } else if (quote !== null) {
      if (char === quote) quote = null;
      else word += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (quote !== null) throw new Error(`a ${quote} quote is not closed`);
  if (inWord) words.push(word);
  return words;
}

/**
 * Parses a prompt line against the registered command, giving each option the type Discord would send:
 * numbers for integer options, ids for channels (`#general`), roles (`@Crew`) and users (`@alice`), and for
 * an attachment option the id of the local file it names, uploaded with `attach`.
 */
export function parseCommandLine(
  line: string,
  definition: APIApplicationCommand | undefined,
  guild: GuildHandle,
  attach?: AttachFile,
): ParseResult {
  let words: string[];
  try {
    words = splitWords(line.trim().replace(/^\//, ''));
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
  const [name, ...rest] = words;
  if (!name) return { ok: false, error: 'type a command, like /task list' };
  if (!definition || definition.name !== name) return { ok: false, error: `there is no /${name} command` };
  const positional = rest.filter((word) => !isOption(word));
  const parsed: ParsedCommand = { command: name, options: {} };
  let leaf = definition.options ?? [];
  const [first, second] = positional;
  const top = leaf.find((option) => option.name === first);
  if (top?.type === ApplicationCommandOptionType.SubcommandGroup) {
    parsed.group = top.name;
    const sub = top.options?.find((option) => option.name === second);
    if (!sub) {
      const kinds = (top.options ?? []).map((option) => option.name).join(', ');
      return { ok: false, error: `say which kind: /${name} ${top.name} <${kinds}>` };
    }
    parsed.subcommand = sub.name;
    leaf = sub.options ?? [];
  } else if (top?.type === ApplicationCommandOptionType.Subcommand) {
    parsed.subcommand = top.name;
    leaf = top.options ?? [];
  } else {
    return { ok: false, error: `unknown subcommand${first ? ` "${first}"` : ''}; type help` };
  }
  for (const word of rest.filter(isOption)) {
    const colon = word.indexOf(':');
    const key = word.slice(0, colon);
    const raw = word.slice(colon + 1);
    const option = leaf.find((candidate) => candidate.name === key);
    if (!option)
      return {
        ok: false,
        error: `unknown option "${key}"; options here: ${leaf.map((o) => o.name).join(', ')}`,
      };
    if (option.type === ApplicationCommandOptionType.Attachment) {
      if (!attach) return { ok: false, error: `option ${key} takes a file, which this prompt cannot upload` };
      const uploaded = attach(raw);
      if (!uploaded.ok) return { ok: false, error: uploaded.error };
      parsed.options[key] = uploaded.id;
      continue;
    }
    const value = coerce(option.type, raw, guild);
    if (value === undefined) return { ok: false, error: `"${raw}" does not fit option ${key}` };
    parsed.options[key] = value;
  }
  return { ok: true, value: parsed };
}

function isOption(word: string): boolean {
  return /^[a-z0-9_-]+:/.test(word);
}

function coerce(
  type: ApplicationCommandOptionType,
  raw: string,
  guild: GuildHandle,
): OptionValue | undefined {
  switch (type) {
    case ApplicationCommandOptionType.Integer:
    case ApplicationCommandOptionType.Number: {
      const number = Number(raw);
      return raw.trim() !== '' && Number.isFinite(number) ? number : undefined;
    }
    case ApplicationCommandOptionType.Boolean:
      return /^(true|yes|on)$/i.test(raw) ? true : /^(false|no|off)$/i.test(raw) ? false : undefined;
    case ApplicationCommandOptionType.Channel:
      return lookup({ ...guild.channels, ...guild.threads }, raw.replace(/^#/, ''));
    case ApplicationCommandOptionType.Role:
      return raw === '@everyone' ? guild.everyoneRoleId : lookup(guild.roles, raw.replace(/^@/, ''));
    case ApplicationCommandOptionType.User:
      return lookup(guild.members, raw.replace(/^@/, ''));
    case ApplicationCommandOptionType.Mentionable:
      return lookup({ ...guild.roles, ...guild.members }, raw.replace(/^@/, ''));
    default:
      return raw;
  }
}

/** A name from the demo server, or an id as is. */
function lookup(byName: Record<string, string>, nameOrId: string): string | undefined {
  if (/^\d{17,20}$/.test(nameOrId)) return nameOrId;
  const match = Object.entries(byName).find(([name]) => name.toLowerCase() === nameOrId.toLowerCase());
  return match?.[1];
}
