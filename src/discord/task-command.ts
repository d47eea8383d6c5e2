// The shape of one `/task` subcommand module (src/commands/task/*.ts) and what it is given when it runs.
// A module exports `data`, `execute` and optionally `autocomplete` and `component`; the loader in
// src/commands/index.ts assembles them into the one `/task` command, so adding a subcommand is adding a file.
import type { SlashCommandSubcommandBuilder, SlashCommandSubcommandGroupBuilder } from '@discordjs/builders';
import type {
  ApplicationCommandOptionChoiceData,
  AutocompleteInteraction,
  ChatInputCommandInteraction,
  Client,
  InteractionReplyOptions,
  MessageComponentInteraction,
} from 'discord.js';
import type { Db } from '../db/index.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import type { Logger } from '../log.js';
import type { TaskRuntime } from '../tasks/index.js';

export interface CommandContext {
  runtime: TaskRuntime;
  registry: HandlerRegistry;
  db: Db;
  client: Client;
  log: Logger;
}

export type SubcommandData = SlashCommandSubcommandBuilder | SlashCommandSubcommandGroupBuilder;

/** What a subcommand built from the handlers may still use of `/task`'s size, and where to say what it left out. */
export interface CommandRoom {
  /** Characters left under Discord's limit for the whole command (counted as commandCharacters does). */
  characters: number;
  /** Records a part that did not fit (`create qotd`) with the reason, for the log and `Bot.started`. */
  leaveOut(path: string, reason: string): void;
}

export interface TaskSubcommand {
  /**
   * The subcommand (or group) this module adds to `/task`; a function when it depends on the handlers
   * (returning undefined leaves it out). A function is called after the fixed pieces are counted, and must
   * stay within `room`.
   */
  data: SubcommandData | ((registry: HandlerRegistry, room: CommandRoom) => SubcommandData | undefined);
  /**
   * Does the work and returns the ephemeral reply: what happened, or one sentence saying what was wrong.
   * A TaskError thrown from here is shown as its sentence; anything else is logged and answered generically.
   */
  execute(interaction: ChatInputCommandInteraction<'cached'>, ctx: CommandContext): Promise<CommandReply>;
  autocomplete?(
    interaction: AutocompleteInteraction<'cached'>,
    ctx: CommandContext,
  ): Promise<ApplicationCommandOptionChoiceData[]>;
  /**
   * Answers a click on a button (or select) this module put on one of its replies, whose custom id is
   * `componentId(commandName, subcommand, ...args)`; `args` are the parts after the subcommand. A TaskError
   * thrown from here is shown to the clicker as its sentence, ephemerally.
   */
  component?(
    interaction: MessageComponentInteraction<'cached'>,
    args: readonly string[],
    ctx: CommandContext,
  ): Promise<ComponentReply>;
}

/**
 * A command's ephemeral reply: one sentence, or a message that also carries buttons or files. Mentions in it
 * never ping (the router sets allowed mentions to none).
 */
export type CommandReply = string | Pick<InteractionReplyOptions, 'content' | 'components' | 'files'>;

/**
 * What a click answers: the message holding the component, edited in place (a page turned), or a new
 * ephemeral reply to the clicker alone (a refusal), leaving the message as it was.
 */
export type ComponentReply = { update: CommandReply } | { reply: CommandReply };

/** Discord refuses a component custom id longer than this. */
export const MAX_CUSTOM_ID_LENGTH = 100;

/** Separates the parts of a custom id; no part may contain it. */
const CUSTOM_ID_SEPARATOR = ':';

/**
 * The custom id of a component that routes back to `subcommand`'s `component` handler with `args`:
 * `task:list:2:<user id>`. Throws (a bug, not a user error) if a part holds the separator or the id is too long.
 */
export function componentId(
  commandName: string,
  subcommand: string,
  ...args: readonly (string | number)[]
): string {
  const parts = [commandName, subcommand, ...args.map(String)];
  const id = parts.join(CUSTOM_ID_SEPARATOR);
  if (parts.some((part) => part.includes(CUSTOM_ID_SEPARATOR)) || id.length > MAX_CUSTOM_ID_LENGTH) {
    throw new Error(`cannot build a component custom id from ${JSON.stringify(parts)}`);
  }
  return id;
}

/** Whether a custom id is under this command's prefix (`task:…`): every such button is the router's to answer. */
export function ownsComponentId(commandName: string, customId: string): boolean {
  return customId.startsWith(`${commandName}${CUSTOM_ID_SEPARATOR}`);
}

/** The parts of a custom id built by componentId, or undefined if it is not one of `commandName`'s. */
export function parseComponentId(
  commandName: string,
  customId: string,
): { subcommand: string; args: string[] } | undefined {
  const [command, subcommand, ...args] = customId.split(CUSTOM_ID_SEPARATOR);
  if (command !== commandName || subcommand === undefined || subcommand === '') return undefined;
  return { subcommand, args };
}

/** Discord shows at most 25 autocomplete choices. */
export const MAX_CHOICES = 25;
