// The shape of one `/task` subcommand module (commands/task/*.ts) and what it is given when it runs.
// A module exports `data`, `execute` and optionally `autocomplete`; the loader in commands/index.ts
// assembles them into the one `/task` command, so adding a subcommand is adding a file.
import type { SlashCommandSubcommandBuilder, SlashCommandSubcommandGroupBuilder } from '@discordjs/builders';
import type {
  ApplicationCommandOptionChoiceData,
  AutocompleteInteraction,
  ChatInputCommandInteraction,
  Client,
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

export interface TaskSubcommand {
  /**
   * The subcommand (or group) this module adds to `/task`; a function when it depends on the handlers
   * (returning undefined leaves it out).
   */
  data: SubcommandData | ((registry: HandlerRegistry) => SubcommandData | undefined);
  /**
   * Does the work and returns the ephemeral reply: what happened, or one sentence saying what was wrong.
   * A TaskError thrown from here is shown as its sentence; anything else is logged and answered generically.
   */
  execute(interaction: ChatInputCommandInteraction<'cached'>, ctx: CommandContext): Promise<string>;
  autocomplete?(
    interaction: AutocompleteInteraction<'cached'>,
    ctx: CommandContext,
  ): Promise<ApplicationCommandOptionChoiceData[]>;
}

/** Discord shows at most 25 autocomplete choices. */
export const MAX_CHOICES = 25;
