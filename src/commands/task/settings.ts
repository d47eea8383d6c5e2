// /task settings [timezone]: shows this server's settings, or sets the zone tasks created later default to.
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import { retryWhileBusy } from '../../db/busy.js';
import { getGuildSettings, setGuildTimeZone } from '../../db/index.js';
import { shortTime } from '../../discord/format.js';
import type { TaskSubcommand } from '../../discord/task-command.js';
import { describeTimeZone, parseTimeZone } from '../../discord/time-zones.js';
import { TaskError } from '../../tasks/index.js';
import { autocompleteShared } from '../options.js';

export const data = new SlashCommandSubcommandBuilder()
  .setName('settings')
  .setDescription("Show or change this server's settings")
  .addStringOption((o) =>
    o
      .setName('timezone')
      .setDescription('Default zone of new tasks, like Europe/Paris or paris')
      .setMaxLength(100)
      .setAutocomplete(true),
  );

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) => {
  const typed = interaction.options.getString('timezone');
  const now = Date.now();
  // Reads and writes outside the runtime's per-task commands, so this waits out a busy database itself.
  if (typed === null) {
    const settings = await retryWhileBusy(() => getGuildSettings(ctx.db, interaction.guildId));
    const zone = settings?.timeZone
      ? `${describeTimeZone(settings.timeZone, now)}, set by <@${settings.updatedBy}> ${shortTime(settings.updatedAt)}`
      : 'UTC (default)';
    return [
      '**Server settings**',
      `Time zone: ${zone}. Tasks created without \`timezone\` use it.`,
      'Change it with `/task settings timezone:`.',
    ].join('\n');
  }
  const parsed = parseTimeZone(typed, now);
  if (!parsed.ok) throw new TaskError('invalid_definition', parsed.error);
  await retryWhileBusy(() =>
    setGuildTimeZone(ctx.db, interaction.guildId, parsed.value, { by: interaction.user.id, now }),
  );
  return (
    `This server's time zone is now ${describeTimeZone(parsed.value, now)}: tasks created from now on ` +
    'without `timezone` use it; existing tasks keep their own zone.'
  );
};

export const autocomplete: TaskSubcommand['autocomplete'] = autocompleteShared;
