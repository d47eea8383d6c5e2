// /task import file: creates the tasks of a `/task export` file, all of them or none. The whole file is
// checked first, task by task, and one reply lists every problem; only a file with none creates anything.
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import { retryWhileBusy } from '../../db/busy.js';
import { missingChannelPermission, neededChannelPermissions } from '../../discord/channel-permissions.js';
import { describeSchedule, fitLines } from '../../discord/format.js';
import type { TaskSubcommand } from '../../discord/task-command.js';
import { MAX_IMPORT_BYTES, overLimit, readExportFile, tooLarge } from '../../discord/transfer.js';
import { guildDirectory } from '../../discord/transfer-directory.js';
import { memberNamesIn, type PlannedTask, planImport } from '../../discord/transfer-import.js';
import { TaskError } from '../../tasks/index.js';

/** Discord answers a download in well under this; past it the admin hears why rather than waiting. */
const DOWNLOAD_TIMEOUT_MS = 10_000;

export const data = new SlashCommandSubcommandBuilder()
  .setName('import')
  .setDescription('Create tasks from a /task export file')
  .addAttachmentOption((o) =>
    o.setName('file').setDescription('A .json file made by /task export').setRequired(true),
  );

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) => {
  const { guild } = interaction;
  const attachment = interaction.options.getAttachment('file', true);
  if (attachment.size > MAX_IMPORT_BYTES) return tooLarge(attachment.size);
  const bytes = await download(attachment.url);
  if (typeof bytes === 'string') return bytes;
  const file = readExportFile(bytes);
  if (!file.ok) throw new TaskError('invalid_definition', file.error);

  const existing = await retryWhileBusy(() => ctx.runtime.list(guild.id));
  const full = overLimit(file.value.length, existing.length, ctx.runtime.maxTasksPerGuild);
  if (full) return full;
  const handler = (kind: string) => ctx.registry.get(kind);
  const nowMs = Date.now();
  // Only the members the file names are looked up: the client caches none but the bot's own.
  const directory = await guildDirectory(guild, memberNamesIn(file.value, handler, nowMs));
  if (!directory.ok) return directory.error;
  const plan = planImport(file.value, {
    handler,
    directory: directory.value,
    existingNames: new Set(existing.map((task) => task.name)),
    nowMs,
  });
  // The create-time check, for each task otherwise fine: the bot must be able to work in its channel.
  for (const planned of plan) {
    if (!planned.definition || !planned.handler) continue;
    const needed = neededChannelPermissions(planned.handler, planned.definition.options, guild);
    const missing = await missingChannelPermission(guild, planned.definition.channelId, needed);
    if (missing) planned.problems.push(missing);
  }
  const refused = plan.filter((planned) => planned.problems.length > 0);
  if (refused.length > 0) return problemsReply(plan.length, refused);

  const skipped = plan
    .filter((planned) => planned.skipped !== undefined)
    .map((planned) => `• Skipped **${planned.label}**: ${planned.skipped}.`);
  const toCreate = plan.filter((planned) => planned.definition !== undefined);
  if (toCreate.length === 0)
    return fitLines('Nothing to import: no task in the file is left to run.', skipped);
  let tasks: Awaited<ReturnType<typeof ctx.runtime.createAll>>;
  try {
    tasks = await ctx.runtime.createAll(
      guild.id,
      toCreate.map((planned) => ({ ...planned.definition!, createdBy: interaction.user.id })),
    );
  } catch (error) {
    if (error instanceof TaskError) throw new TaskError(error.code, `Nothing was imported: ${error.message}`);
    throw error;
  }
  const exported = new Map(plan.map((planned) => [planned.label, planned.exportedState]));
  const lines = tasks.map((task) => {
    const state =
      task.state === 'running'
        ? 'running'
        : `stopped (it was ${exported.get(task.name)} when exported; \`/task start ${task.name}\` runs it)`;
    return `• **${task.name}** (${task.kind}) in <#${task.channelId}>, ${describeSchedule(task.schedule)}, ${state}`;
  });
  return fitLines(`Imported ${tasks.length} task${tasks.length === 1 ? '' : 's'}:`, [...lines, ...skipped]);
};

/** The file's bytes, or the sentence for a download that failed. */
async function download(url: string): Promise<Uint8Array | string> {
  const failed = "I couldn't download that file from Discord; try again in a moment.";
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    if (!response.ok) return failed;
    return new Uint8Array(await response.arrayBuffer());
  } catch {
    return failed;
  }
}

function problemsReply(total: number, refused: readonly PlannedTask[]): string {
  const header =
    `Nothing was imported: ${refused.length} of the ${total} task${total === 1 ? '' : 's'} in the file ` +
    `${refused.length === 1 ? 'has a problem' : 'have problems'}. Fix ${refused.length === 1 ? 'it' : 'them'} and import the file again.`;
  return fitLines(
    header,
    refused.map((planned) => `• **${planned.label}**: ${planned.problems.join(' ')}`),
  );
}
