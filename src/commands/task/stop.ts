// /task stop name: graceful; a run in progress finishes, no new one starts.
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import type { TaskSubcommand } from '../../discord/task-command.js';
import { addTaskNameOption, autocompleteShared } from '../options.js';

export const data = addTaskNameOption(
  new SlashCommandSubcommandBuilder()
    .setName('stop')
    .setDescription('Stop a task after its current run (start it again later)'),
);

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) => {
  const task = await ctx.runtime.stop(interaction.guildId, interaction.options.getString('name', true));
  return `Stopped **${task.name}**: a run in progress finishes, and no new run starts until \`/task start\`.`;
};

export const autocomplete: TaskSubcommand['autocomplete'] = autocompleteShared;
