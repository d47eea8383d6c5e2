// /task create <kind> name channel [every|at|cron] [timezone] [count] [catchup] [timeout] …the kind's own options
import { SlashCommandSubcommandBuilder, SlashCommandSubcommandGroupBuilder } from '@discordjs/builders';
import { retryWhileBusy } from '../../db/busy.js';
import { guildTimeZone } from '../../db/index.js';
import {
  missingChannelPermission,
  neededChannelPermissions,
  TASK_CHANNEL_TYPES,
} from '../../discord/channel-permissions.js';
import { commandCharacters, MAX_COMMAND_CHARACTERS, MAX_OPTIONS } from '../../discord/command-limits.js';
import { describeSchedule, nextRunLine } from '../../discord/format.js';
import { collectHandlerOptions, validateHandlerOptions } from '../../discord/handler-options.js';
import { parseTimeout } from '../../discord/input.js';
import { scheduleFromOptions } from '../../discord/schedule-input.js';
import type { CommandRoom, TaskSubcommand } from '../../discord/task-command.js';
import type { Handler } from '../../handlers/define.js';
import type { HandlerRegistry } from '../../handlers/registry.js';
import { TaskError } from '../../tasks/index.js';
import {
  addScheduleOptions,
  autocompleteShared,
  MAX_COUNT,
  MAX_NAME_LENGTH,
  scheduleOptionsOf,
} from '../options.js';

/**
 * One subcommand per handler kind: the options every task has, then the handler's own. Kinds are added in
 * load order (built-ins first) while they fit: at most 25 in the group, and within `room`. A kind left out
 * keeps running its existing tasks; it just cannot be created until fewer kinds are loaded.
 */
export function data(
  registry: HandlerRegistry,
  room: CommandRoom,
): SlashCommandSubcommandGroupBuilder | undefined {
  const handlers = registry.all();
  if (handlers.length === 0) return undefined;
  const group = new SlashCommandSubcommandGroupBuilder().setName('create').setDescription('Create a task');
  let used = commandCharacters(group.toJSON());
  for (const handler of handlers) {
    const path = `create ${handler.kind}`;
    if (group.options.length >= MAX_OPTIONS) {
      room.leaveOut(path, `Discord allows at most ${MAX_OPTIONS} kinds in /task create`);
      continue;
    }
    let subcommand: SlashCommandSubcommandBuilder;
    let size: number;
    try {
      subcommand = kindSubcommand(handler);
      size = commandCharacters(subcommand.toJSON());
    } catch (error) {
      room.leaveOut(
        path,
        `its options are invalid: ${error instanceof Error ? error.message : String(error)}`,
      );
      continue;
    }
    if (used + size > room.characters) {
      room.leaveOut(
        path,
        `it needs ${size} of /task's ${MAX_COMMAND_CHARACTERS.toLocaleString('en-US')} characters (names, descriptions, choices) and only ${Math.max(0, room.characters - used)} are left`,
      );
      continue;
    }
    group.addSubcommand(subcommand);
    used += size;
  }
  return group.options.length === 0 ? undefined : group;
}

function kindSubcommand(handler: Handler): SlashCommandSubcommandBuilder {
  const builder = new SlashCommandSubcommandBuilder()
    .setName(handler.kind)
    .setDescription(handler.description)
    .addStringOption((o) =>
      o
        .setName('name')
        .setDescription('Lowercase letters, digits, - and _')
        .setRequired(true)
        .setMaxLength(MAX_NAME_LENGTH),
    )
    .addChannelOption((o) =>
      o
        .setName('channel')
        .setDescription('Where it posts (or which channel it renames)')
        .setRequired(true)
        .addChannelTypes(...TASK_CHANNEL_TYPES),
    );
  addScheduleOptions(builder)
    .addIntegerOption((o) =>
      o
        .setName('count')
        .setDescription('Stop after this many runs (default: forever)')
        .setMinValue(1)
        .setMaxValue(MAX_COUNT),
    )
    .addStringOption((o) =>
      o
        .setName('catchup')
        .setDescription('After downtime: skip missed runs (default) or run one late')
        .addChoices({ name: 'skip missed runs', value: 'skip' }, { name: 'run once late', value: 'once' }),
    )
    .addStringOption((o) =>
      o
        .setName('timeout')
        .setDescription('Abort a run after… like 30s or 5m (default 1m, max 15m)')
        .setMaxLength(20),
    );
  // Required kind options land after the optional common ones here; the loader moves required ones first.
  return handler.slashOptions?.(builder) ?? builder;
}

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) => {
  const kind = interaction.options.getSubcommand(true);
  const handler = ctx.registry.get(kind);
  if (!handler)
    throw new TaskError('invalid_definition', `There is no task kind "${kind}" on this bot any more.`);

  const defaultTimeZone = await retryWhileBusy(() => guildTimeZone(ctx.db, interaction.guildId));
  const schedule = scheduleFromOptions(scheduleOptionsOf(interaction), {
    nowMs: Date.now(),
    defaultTimeZone,
  });
  if (!schedule.ok) throw new TaskError('invalid_schedule', schedule.error);
  const options = validateHandlerOptions(
    handler,
    collectHandlerOptions(interaction, handler),
    interaction.guild,
  );
  if (!options.ok) throw new TaskError('invalid_definition', options.error);
  const timeoutText = interaction.options.getString('timeout');
  const timeout = timeoutText === null ? undefined : parseTimeout(timeoutText);
  if (timeout && !timeout.ok) throw new TaskError('invalid_definition', timeout.error);

  const channelId = interaction.options.getChannel('channel', true).id;
  const missing = await missingChannelPermission(
    interaction.guild,
    channelId,
    neededChannelPermissions(handler, options.value, interaction.guild),
  );
  if (missing) return missing;

  const catchUp = interaction.options.getString('catchup') === 'once' ? 'once' : 'skip';
  const task = await ctx.runtime.create(interaction.guildId, {
    name: interaction.options.getString('name', true).trim(),
    kind,
    options: options.value,
    schedule: schedule.value,
    count: interaction.options.getInteger('count'),
    catchUp,
    ...(timeout ? { timeoutMs: timeout.value * 1000 } : {}),
    channelId,
    createdBy: interaction.user.id,
  });
  const times = task.count === null ? '' : `, ${task.count} time${task.count === 1 ? '' : 's'}`;
  return (
    `Created **${task.name}**, a ${kind} task in <#${channelId}> running ${describeSchedule(task.schedule)}${times}. ` +
    nextRunLine(task)
  );
};

export const autocomplete: TaskSubcommand['autocomplete'] = autocompleteShared;
