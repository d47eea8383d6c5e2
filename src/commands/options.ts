// Option pieces and autocomplete shared by the /task subcommands (this is not a subcommand module).
import type { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import type {
  ApplicationCommandOptionChoiceData,
  AutocompleteInteraction,
  ChatInputCommandInteraction,
} from 'discord.js';
import { retryWhileBusy } from '../db/busy.js';
import { guildTimeZone } from '../db/index.js';
import { MAX_SCHEDULE_TEXT, type ScheduleOptions } from '../discord/schedule-input.js';
import { schedulePreviewChoices } from '../discord/schedule-preview.js';
import { type CommandContext, MAX_CHOICES } from '../discord/task-command.js';
import { parseTimeZone, timeZoneChoices } from '../discord/time-zones.js';

/** The largest `count` the slash option offers (create and edit). */
export const MAX_COUNT = 1_000_000;

/** The longest name a task may have (see TASK_NAME_PATTERN). */
export const MAX_NAME_LENGTH = 32;

/** `name`: required, autocompleted from this server's tasks. */
export function addTaskNameOption(builder: SlashCommandSubcommandBuilder): SlashCommandSubcommandBuilder {
  return builder.addStringOption((o) =>
    o
      .setName('name')
      .setDescription('The task')
      .setRequired(true)
      .setMaxLength(MAX_NAME_LENGTH)
      .setAutocomplete(true),
  );
}

/** `every`, `at`, `timezone`, `cron`: all optional; the command checks that exactly one schedule is given. */
export function addScheduleOptions(builder: SlashCommandSubcommandBuilder): SlashCommandSubcommandBuilder {
  return builder
    .addStringOption((o) =>
      o
        .setName('every')
        .setDescription('Like 90s, 15m, 1h30m or 2d (at least 10s)')
        .setMaxLength(MAX_SCHEDULE_TEXT)
        .setAutocomplete(true),
    )
    .addStringOption((o) =>
      o
        .setName('at')
        .setDescription('09:00, mon,fri 9am, or once: 2026-12-24 18:00, tomorrow 9am')
        .setMaxLength(MAX_SCHEDULE_TEXT)
        .setAutocomplete(true),
    )
    .addStringOption((o) =>
      o
        .setName('timezone')
        .setDescription('For at/cron: paris, CET, Europe/Paris (default: the server zone)')
        .setMaxLength(100)
        .setAutocomplete(true),
    )
    .addStringOption((o) =>
      o
        .setName('cron')
        .setDescription('Like 0 9 * * 1 (Mondays at 09:00)')
        .setMaxLength(MAX_SCHEDULE_TEXT)
        .setAutocomplete(true),
    );
}

export function scheduleOptionsOf(interaction: ChatInputCommandInteraction): ScheduleOptions {
  const { options } = interaction;
  return {
    every: options.getString('every'),
    at: options.getString('at'),
    timezone: options.getString('timezone'),
    cron: options.getString('cron'),
  };
}

/**
 * Autocomplete for the options several subcommands share: `name` (this server's tasks), `timezone`, and the
 * live preview of `at` / `every` / `cron`.
 */
export async function autocompleteShared(
  interaction: AutocompleteInteraction<'cached'>,
  ctx: CommandContext,
): Promise<ApplicationCommandOptionChoiceData[]> {
  const focused = interaction.options.getFocused(true);
  const typed = String(focused.value);
  if (focused.name === 'timezone') return timeZoneChoices(typed, Date.now(), MAX_CHOICES);
  if (focused.name === 'name') {
    const prefix = typed.trim().toLowerCase();
    return ctx.runtime
      .list(interaction.guildId)
      .filter((task) => task.name.startsWith(prefix))
      .slice(0, MAX_CHOICES)
      .map((task) => ({ name: `${task.name} (${task.kind}, ${task.state})`, value: task.name }));
  }
  if (focused.name === 'at' || focused.name === 'every' || focused.name === 'cron') {
    return previewSchedule(interaction, ctx, focused.name, typed);
  }
  return [];
}

/**
 * The live preview of `at` / `every` / `cron`, in the zone that applies: the `timezone` option when it is
 * already valid, else the task's own (for /task interval), else the server's default.
 */
async function previewSchedule(
  interaction: AutocompleteInteraction<'cached'>,
  ctx: CommandContext,
  option: 'at' | 'every' | 'cron',
  typed: string,
) {
  const zoneTyped = interaction.options.getString('timezone');
  const timezone = zoneTyped !== null && parseTimeZone(zoneTyped).ok ? zoneTyped : null;
  const name =
    interaction.options.getSubcommand(false) === 'interval' ? interaction.options.getString('name') : null;
  const current =
    name === null ? undefined : ctx.runtime.list(interaction.guildId).find((task) => task.name === name);
  const defaultTimeZone = await retryWhileBusy(() => guildTimeZone(ctx.db, interaction.guildId));
  return schedulePreviewChoices(option, typed, {
    nowMs: Date.now(),
    defaultTimeZone,
    timezone,
    ...(current ? { current: current.schedule } : {}),
  });
}
