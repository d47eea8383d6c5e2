// /task interval name [every|at|cron] [timezone]: change when a task runs.
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import { retryWhileBusy } from '../../db/busy.js';
import { guildTimeZone } from '../../db/index.js';
import { isOtherServersChannel } from '../../discord/channel-permissions.js';
import { describeSchedule, nextRunLine } from '../../discord/format.js';
import { scheduleFromOptions } from '../../discord/schedule-input.js';
import type { TaskSubcommand } from '../../discord/task-command.js';
import { TaskError } from '../../tasks/index.js';
import { addScheduleOptions, addTaskNameOption, autocompleteShared, scheduleOptionsOf } from '../options.js';

export const data = addScheduleOptions(
  addTaskNameOption(
    new SlashCommandSubcommandBuilder().setName('interval').setDescription("Change a task's schedule"),
  ),
);

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) => {
  const name = interaction.options.getString('name', true);
  const { task: current } = await retryWhileBusy(() => ctx.runtime.info(interaction.guildId, name, 0));
  // Saved before channels were checked (or forged): no change goes through until the task is remade here.
  if (isOtherServersChannel(interaction.guild, current.channelId)) {
    throw new TaskError(
      'invalid_definition',
      `**${current.name}** posts in a channel of another server, which is not allowed; delete it and create it again with a channel of this server.`,
    );
  }
  const defaultTimeZone = await retryWhileBusy(() => guildTimeZone(ctx.db, interaction.guildId));
  const schedule = scheduleFromOptions(scheduleOptionsOf(interaction), {
    nowMs: Date.now(),
    defaultTimeZone,
    current: current.schedule,
  });
  if (!schedule.ok) throw new TaskError('invalid_schedule', schedule.error);
  const task = await ctx.runtime.updateSchedule(interaction.guildId, name, schedule.value);
  return `**${task.name}** now runs ${describeSchedule(task.schedule)}. ${nextRunLine(task)}`;
};

export const autocomplete: TaskSubcommand['autocomplete'] = autocompleteShared;
