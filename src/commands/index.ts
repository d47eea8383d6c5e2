// The /task command: every module in src/commands/task/ is one subcommand (or group). Adding a subcommand is
// adding a file there that exports `data`, `execute` and optionally `autocomplete`.
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  SlashCommandBuilder,
  SlashCommandSubcommandBuilder,
  SlashCommandSubcommandGroupBuilder,
} from '@discordjs/builders';
import {
  type APIApplicationCommandOption,
  InteractionContextType,
  PermissionFlagsBits,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord-api-types/v10';
import { commandCharacters, MAX_COMMAND_CHARACTERS } from '../discord/command-limits.js';
import type { CommandRoom, SubcommandData, TaskSubcommand } from '../discord/task-command.js';
import { type HandlerRegistry, isModuleFile } from '../handlers/registry.js';

export const TASK_COMMAND_NAME = 'task';
const SUBCOMMANDS_DIR = fileURLToPath(new URL('./task', import.meta.url));

export interface TaskCommand {
  /** What is registered with Discord. */
  json: RESTPostAPIChatInputApplicationCommandsJSONBody;
  /** By top-level name: a subcommand (`list`) or a group (`create`). */
  subcommands: ReadonlyMap<string, TaskSubcommand>;
  /** Parts that did not fit Discord's limits (`create qotd`), with why; they are not offered. */
  leftOut: { path: string; reason: string }[];
}

let modulesLoaded: Promise<TaskSubcommand[]> | undefined;

/** Imports every subcommand module once per process. */
function subcommandModules(): Promise<TaskSubcommand[]> {
  modulesLoaded ??= (async () => {
    const files = readdirSync(SUBCOMMANDS_DIR)
      .filter((file) => isModuleFile(file))
      .sort();
    const modules: TaskSubcommand[] = [];
    for (const file of files) {
      const module = (await import(
        pathToFileURL(join(SUBCOMMANDS_DIR, file)).href
      )) as Partial<TaskSubcommand>;
      if (module.data === undefined || typeof module.execute !== 'function') {
        throw new Error(`src/commands/task/${basename(file)} must export data and execute`);
      }
      modules.push(module as TaskSubcommand);
    }
    return modules;
  })();
  return modulesLoaded;
}

/**
 * Builds `/task` for these handlers (the `create` group has one subcommand per kind). The fixed subcommands
 * are counted first; the ones built from the handlers then get what is left of Discord's 8,000 characters,
 * so a bot with many kinds offers those that fit (in load order) instead of being refused by Discord.
 */
export async function loadTaskCommand(registry: HandlerRegistry): Promise<TaskCommand> {
  const builder = new SlashCommandBuilder()
    .setName(TASK_COMMAND_NAME)
    .setDescription("Manage this server's scheduled tasks")
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .setContexts(InteractionContextType.Guild);
  const modules = await subcommandModules();
  const pieces = new Map<TaskSubcommand, SubcommandData>();
  let used = commandCharacters(builder.toJSON());
  for (const module of modules) {
    if (typeof module.data === 'function') continue;
    pieces.set(module, module.data);
    used += commandCharacters(module.data.toJSON());
  }
  const leftOut: TaskCommand['leftOut'] = [];
  for (const module of modules) {
    if (typeof module.data !== 'function') continue;
    const room: CommandRoom = {
      characters: MAX_COMMAND_CHARACTERS - used,
      leaveOut: (path, reason) => leftOut.push({ path, reason }),
    };
    const piece = module.data(registry, room);
    if (piece === undefined) continue;
    pieces.set(module, piece);
    used += commandCharacters(piece.toJSON());
  }
  const subcommands = new Map<string, TaskSubcommand>();
  for (const module of modules) {
    const piece = pieces.get(module);
    if (piece === undefined) continue;
    if (piece instanceof SlashCommandSubcommandGroupBuilder) builder.addSubcommandGroup(piece);
    else if (piece instanceof SlashCommandSubcommandBuilder) builder.addSubcommand(piece);
    subcommands.set(piece.name, module);
  }
  const json = builder.toJSON();
  return { json: { ...json, options: requiredFirst(json.options ?? []) }, subcommands, leftOut };
}

/**
 * Discord refuses an optional option before a required one. Handlers add their (possibly required) options
 * after the common optional ones, so required options move to the front, keeping their order otherwise.
 */
function requiredFirst(options: APIApplicationCommandOption[]): APIApplicationCommandOption[] {
  const nested = options.map((option) =>
    'options' in option && Array.isArray(option.options)
      ? ({
          ...option,
          options: requiredFirst(option.options as APIApplicationCommandOption[]),
        } as APIApplicationCommandOption)
      : option,
  );
  const isRequired = (option: APIApplicationCommandOption) =>
    'required' in option && option.required === true;
  return [...nested.filter(isRequired), ...nested.filter((option) => !isRequired(option))];
}
