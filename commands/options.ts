// Option pieces and autocomplete shared by the /task subcommands (this is not a subcommand module).
import type { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import type {
  ApplicationCommandOptionChoiceData,
  AutocompleteInteraction,
  ChatInputCommandInteraction,
} from 'discord.js';
import type { ScheduleOptions } from '../src/discord/schedule-input.js';
import { type CommandContext, MAX_CHOICES } from '../src/discord/task-command.js';
import { suggestTimeZones } from '../src/discord/time-zones.js';

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
      o.setName('every').setDescription('Like 90s, 15m, 1h30m or 2d (at least 10s)').setMaxLength(100),
    )
    .addStringOption((o) =>
      o.setName('at').setDescription('Daily, like 09:00 or 09:00, 18:30').setMaxLength(200),
    )
    .addStringOption((o) =>
      o
        .setName('timezone')
        .setDescription('For at/cron, like Europe/Paris (default UTC)')
        .setMaxLength(100)
        .setAutocomplete(true),
    )
    .addStringOption((o) =>
      o.setName('cron').setDescription('Like 0 9 * * 1 (Mondays at 09:00)').setMaxLength(200),
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

/** Autocomplete for the options several subcommands share: `name` (this server's tasks) and `timezone`. */
export async function autocompleteShared(
  interaction: AutocompleteInteraction<'cached'>,
  ctx: CommandContext,
): Promise<ApplicationCommandOptionChoiceData[]> {
  const focused = interaction.options.getFocused(true);
  const typed = String(focused.value);
  if (focused.name === 'timezone') {
    return suggestTimeZones(typed, MAX_CHOICES).map((zone) => ({ name: zone, value: zone }));
  }
  if (focused.name === 'name') {
    const prefix = typed.trim().toLowerCase();
    return ctx.runtime
      .list(interaction.guildId)
      .filter((task) => task.name.startsWith(prefix))
      .slice(0, MAX_CHOICES)
      .map((task) => ({ name: `${task.name} (${task.kind}, ${task.state})`, value: task.name }));
  }
  return [];
}
