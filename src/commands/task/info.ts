// /task info name: the definition, state, progress, next 5 runs, recent runs and the handler's status.
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import { ApplicationCommandOptionType } from 'discord-api-types/v10';
import type { Task } from '../../db/index.js';
import { describeRun, describeSchedule, fitLines, progress, shortTime } from '../../discord/format.js';
import { handlerSlashOptions } from '../../discord/handler-options.js';
import { handlerStatus } from '../../discord/handler-status.js';
import { formatEvery, quote } from '../../discord/input.js';
import type { TaskSubcommand } from '../../discord/task-command.js';
import { upcomingRunLines } from '../../discord/upcoming-runs.js';
import type { Handler } from '../../handlers/define.js';
import { addTaskNameOption, autocompleteShared } from '../options.js';

const RUNS_SHOWN = 5;

export const data = addTaskNameOption(
  new SlashCommandSubcommandBuilder().setName('info').setDescription('Show a task in detail'),
);

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) => {
  const { task, runs } = ctx.runtime.info(
    interaction.guildId,
    interaction.options.getString('name', true),
    RUNS_SHOWN,
  );
  const lines = [
    `Kind: ${task.kind} in <#${task.channelId}>, ${task.state}`,
    `Schedule: ${describeSchedule(task.schedule)}${task.count === null ? '' : `, ${task.count} times`}; catch-up ${task.catchUp}; timeout ${describeTimeout(task.timeoutMs)}`,
    `Progress: ${progress(task)}`,
    ...upcomingRunLines(task),
    ...optionLines(task, ctx.registry.get(task.kind)),
  ];
  if (task.lastError) lines.push(`Last error: ${quote(task.lastError, 300)}`);
  const status = handlerStatus(ctx, task);
  if (status) lines.push(`Status: ${quote(status, 300)}`);
  lines.push(runs.length === 0 ? 'No runs yet.' : `Last ${runs.length} run${runs.length === 1 ? '' : 's'}:`);
  lines.push(...runs.map(describeRun));
  lines.push(`Created by <@${task.createdBy}> ${shortTime(task.createdAt)}.`);
  return fitLines(`**${task.name}**`, lines);
};

/** The kind's options, with role, channel and user ids shown as mentions. */
function optionLines(task: Task, handler: Handler | undefined): string[] {
  const entries = Object.entries(task.options);
  if (entries.length === 0) return [];
  const types = new Map(
    handler ? handlerSlashOptions(handler).map((option) => [option.name, option.type]) : [],
  );
  const shown = entries.map(([key, value]) => {
    const type = types.get(key);
    if (typeof value === 'string' && type === ApplicationCommandOptionType.Role)
      return `${key}: <@&${value}>`;
    if (typeof value === 'string' && type === ApplicationCommandOptionType.Channel)
      return `${key}: <#${value}>`;
    if (typeof value === 'string' && type === ApplicationCommandOptionType.User) return `${key}: <@${value}>`;
    return `${key}: ${quote(typeof value === 'string' ? `"${value}"` : JSON.stringify(value), 120)}`;
  });
  return [`Options: ${shown.join(', ')}`];
}

/** `1m`, `30s`; a timeout set in code to a fraction of a second shows in ms. */
function describeTimeout(timeoutMs: number): string {
  return timeoutMs % 1000 === 0 ? formatEvery(timeoutMs / 1000) : `${timeoutMs} ms`;
}

export const autocomplete: TaskSubcommand['autocomplete'] = autocompleteShared;
