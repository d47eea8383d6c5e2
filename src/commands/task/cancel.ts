// /task cancel name: immediate; a run in progress is aborted.
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import type { TaskSubcommand } from '../../discord/task-command.js';
import { addTaskNameOption, autocompleteShared } from '../options.js';

export const data = addTaskNameOption(
  new SlashCommandSubcommandBuilder()
    .setName('cancel')
    .setDescription('Stop a task now, aborting a run in progress'),
);

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) => {
  const task = await ctx.runtime.cancel(interaction.guildId, interaction.options.getString('name', true));
  return `Cancelled **${task.name}**: any run in progress was aborted. \`/task start\` runs it again.`;
};

export const autocomplete: TaskSubcommand['autocomplete'] = autocompleteShared;
