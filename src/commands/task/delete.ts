// /task delete name: the task, its history and its handler state; a run in progress is aborted.
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import type { TaskSubcommand } from '../../discord/task-command.js';
import { addTaskNameOption, autocompleteShared } from '../options.js';

export const data = addTaskNameOption(
  new SlashCommandSubcommandBuilder().setName('delete').setDescription('Delete a task and its history'),
);

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) => {
  const name = interaction.options.getString('name', true);
  await ctx.runtime.delete(interaction.guildId, name);
  return `Deleted **${name}** and its history.`;
};

export const autocomplete: TaskSubcommand['autocomplete'] = autocompleteShared;
