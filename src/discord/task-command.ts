// The shape of one `/task` subcommand module (commands/task/*.ts) and what it is given when it runs.
// A module exports `data`, `execute` and optionally `autocomplete`; the loader in commands/index.ts
// assembles them into the one `/task` command, so adding a subcommand is adding a file.
import type { SlashCommandSubcommandBuilder, SlashCommandSubcommandGroupBuilder } from '@discordjs/builders';
import type {
  ApplicationCommandOptionChoiceData,
  AutocompleteInteraction,
  ChatInputCommandInteraction,
  Client,
  InteractionReplyOptions,
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
}

/**
 * A command's ephemeral reply: one sentence, or a message that also carries buttons or files. Mentions in it
 * never ping (the router sets allowed mentions to none).
 */
export type CommandReply = string | Pick<InteractionReplyOptions, 'content' | 'components' | 'files'>;

/** Discord shows at most 25 autocomplete choices. */
export const MAX_CHOICES = 25;
