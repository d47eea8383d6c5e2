// /task list: this server's tasks, one line each.
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import { retryWhileBusy } from '../../src/db/busy.js';
import { describeSchedule, fitLines, relative } from '../../src/discord/format.js';
import type { TaskSubcommand } from '../../src/discord/task-command.js';

export const data = new SlashCommandSubcommandBuilder()
  .setName('list')
  .setDescription("List this server's tasks");

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) => {
  // A read outside the runtime's per-task commands, so it waits out a busy database itself.
  const tasks = await retryWhileBusy(() => ctx.runtime.list(interaction.guildId));
  if (tasks.length === 0) return 'This server has no tasks yet. Create one with `/task create`.';
  const lines = tasks.map((task) => {
    const next =
      task.state === 'running' && task.nextRunAt !== null
        ? `next ${relative(task.nextRunAt)}`
        : 'not scheduled';
    return `• **${task.name}** (${task.kind}) ${task.state}, ${next}, ${describeSchedule(task.schedule)}`;
  });
  return fitLines(`**${tasks.length} task${tasks.length === 1 ? '' : 's'}**`, lines);
};
