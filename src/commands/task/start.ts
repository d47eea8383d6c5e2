// /task start name: run a stopped, cancelled or failed task again; its count continues.
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import { nextRunLine, progress } from '../../discord/format.js';
import type { TaskSubcommand } from '../../discord/task-command.js';
import { addTaskNameOption, autocompleteShared } from '../options.js';

export const data = addTaskNameOption(
  new SlashCommandSubcommandBuilder().setName('start').setDescription('Start a stopped task again'),
);

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) => {
  const task = await ctx.runtime.start(interaction.guildId, interaction.options.getString('name', true));
  return `Started **${task.name}** (${progress(task)}). ${nextRunLine(task)}`;
};

export const autocomplete: TaskSubcommand['autocomplete'] = autocompleteShared;
