// /task list: this server's tasks, one line each, in pages turned with Previous / Next when they don't fit
// one message. Only the admin who ran the command may turn its pages.
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import { retryWhileBusy } from '../../db/busy.js';
import { guildTimeZone, type Task } from '../../db/index.js';
import { describeSchedule, relative } from '../../discord/format.js';
import { clampPage, NOT_YOUR_PAGES, pageButtons, pageLabel, paginate } from '../../discord/pages.js';
import { STALE_COMPONENT } from '../../discord/router.js';
import {
  type CommandContext,
  type CommandReply,
  componentId,
  type TaskSubcommand,
} from '../../discord/task-command.js';
import { TASK_COMMAND_NAME } from '../index.js';

const TASKS_PER_PAGE = 15;
/** Discord's 2000 characters less room for the header, which the lead may grow (the server's time zone). */
const PAGE_CHARACTERS = 1_700;

export const data = new SlashCommandSubcommandBuilder()
  .setName('list')
  .setDescription("List this server's tasks");

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) =>
  listPage(interaction.guildId, interaction.user.id, 1, ctx);

/** A Previous / Next click: `task:list:<page>:<user id of the admin who ran the command>`. */
export const component: NonNullable<TaskSubcommand['component']> = async (interaction, args, ctx) => {
  const [page, ownerId] = args;
  if (args.length !== 2 || !/^\d{1,6}$/.test(page!) || !/^\d{1,20}$/.test(ownerId!)) {
    return { reply: STALE_COMPONENT };
  }
  // Only the owner sees an ephemeral reply, but a forged click can still name it.
  if (interaction.user.id !== ownerId) return { reply: NOT_YOUR_PAGES };
  return { update: await listPage(interaction.guildId, ownerId, Number(page), ctx) };
};

/** Page `page` (clamped to the pages there are now) of the server's tasks as they are now. */
async function listPage(
  guildId: string,
  ownerId: string,
  page: number,
  ctx: CommandContext,
): Promise<Exclude<CommandReply, string>> {
  // A read outside the runtime's per-task commands, so it waits out a busy database itself.
  const tasks = await retryWhileBusy(() => ctx.runtime.list(guildId));
  if (tasks.length === 0) {
    return { content: 'This server has no tasks yet. Create one with `/task create`.', components: [] };
  }
  const pages = paginate(tasks.map(taskLine), { lines: TASKS_PER_PAGE, characters: PAGE_CHARACTERS });
  const shown = clampPage(page, pages.length);
  const timeZone = await retryWhileBusy(() => guildTimeZone(ctx.db, guildId));
  const header = listHeader(tasks.length, shown, pages.length, timeZone);
  const components =
    pages.length > 1
      ? [pageButtons(shown, pages.length, (to) => componentId(TASK_COMMAND_NAME, 'list', to, ownerId))]
      : [];
  return { content: [header, ...pages[shown - 1]!].join('\n'), components };
}

/** The top of every page: the one place for what applies to the whole list. */
function listHeader(taskCount: number, page: number, pageCount: number, timeZone: string): string {
  const count = `**${taskCount} task${taskCount === 1 ? '' : 's'}**`;
  const zone = `Server time zone: ${timeZone} (\`/task settings\` changes it)`;
  return `${pageCount > 1 ? `${count}, ${pageLabel(page, pageCount)}` : count}\n${zone}`;
}

function taskLine(task: Task): string {
  const next =
    task.state === 'running' && task.nextRunAt !== null
      ? `next ${relative(task.nextRunAt)}`
      : 'not scheduled';
  return `• **${task.name}** (${task.kind}) ${task.state}, ${next}, ${describeSchedule(task.schedule)}`;
}
