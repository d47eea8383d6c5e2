// /task export: this server's task definitions as a JSON file, only to the admin who asked.
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import { retryWhileBusy } from '../../db/busy.js';
import { fitLines } from '../../discord/format.js';
import type { TaskSubcommand } from '../../discord/task-command.js';
import { buildExport, exportFileName, memberIdsIn } from '../../discord/transfer.js';
import { guildDirectory } from '../../discord/transfer-directory.js';

export const data = new SlashCommandSubcommandBuilder()
  .setName('export')
  .setDescription("Download this server's tasks as a file");

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) => {
  const { guild } = interaction;
  // A read outside the runtime's per-task commands, so it waits out a busy database itself.
  const tasks = await retryWhileBusy(() => ctx.runtime.list(guild.id));
  if (tasks.length === 0) return 'This server has no tasks to export yet.';
  const handler = (kind: string) => ctx.registry.get(kind);
  // Only the members the tasks name are fetched: the client caches none but the bot's own.
  const directory = await guildDirectory(guild, memberIdsIn(tasks, handler));
  if (!directory.ok) return directory.error;
  const nowMs = Date.now();
  const { file, notes } = buildExport(tasks, {
    handler,
    directory: directory.value,
    serverName: guild.name,
    nowMs,
    exportedBy: 'Metronome',
  });
  const count = `${tasks.length} task${tasks.length === 1 ? '' : 's'}`;
  const lines = [
    `Here ${tasks.length === 1 ? 'is' : 'are'} this server's ${count}: definitions only, no history. ` +
      'Import the file with `/task import` here or in another server; channels, roles and members are matched by name.',
    ...notes.map((note) => `• ${note}`),
  ];
  return {
    content: fitLines(lines[0]!, lines.slice(1)),
    files: [
      {
        attachment: Buffer.from(`${JSON.stringify(file, null, 2)}\n`),
        name: exportFileName(guild.name, nowMs),
      },
    ],
  };
};
