// /task restart name: from iteration zero, whatever the task's state.
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import { nextRunLine } from '../../discord/format.js';
import type { TaskSubcommand } from '../../discord/task-command.js';
import { addTaskNameOption, autocompleteShared } from '../options.js';

export const data = addTaskNameOption(
  new SlashCommandSubcommandBuilder()
    .setName('restart')
    .setDescription('Start a task over from its first run'),
);

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) => {
  const task = await ctx.runtime.restart(interaction.guildId, interaction.options.getString('name', true));
  return `Restarted **${task.name}** from its first run. ${nextRunLine(task)}`;
};

export const autocomplete: TaskSubcommand['autocomplete'] = autocompleteShared;
