// leaderboard: ranks members by the messages they sent, counted from the gateway (messageCreate) per
// member per UTC day; only counts are stored, never content. One message per task, edited in place each
// run and re-posted if it was deleted.
//
// Periods are rolling windows of whole UTC days ending with the day of the run's slot: `day` is that day,
// `week` the last 7 days, `month` the last 30 days (today included), `all` every day counted.
import {
  type APIEmbed,
  type Client,
  DiscordAPIError,
  Events,
  escapeMarkdown,
  type Message,
  RESTJSONErrorCodes,
} from 'discord.js';
import { z } from 'zod';
import {
  type Db,
  getLeaderboardState,
  incrementMessageCount,
  type MemberCount,
  rememberMember,
  saveLeaderboardState,
  topMessageCounts,
  utcDay,
} from '../../db/index.js';
import type { Logger } from '../../log.js';
import { defineHandler } from '../define.js';

const DAY_MS = 86_400_000;
const PERIODS = {
  all: { days: null, label: 'All time' },
  month: { days: 30, label: 'Last 30 days' },
  week: { days: 7, label: 'Last 7 days' },
  day: { days: 1, label: 'Today' },
} as const;
type Period = keyof typeof PERIODS;

const options = z.object({
  size: z.number().int().min(3).max(25).default(10),
  period: z.enum(['all', 'month', 'week', 'day']).default('week'),
  title: z.string().trim().min(1).max(256).default('Most active members'),
});

type LeaderboardOptions = z.infer<typeof options>;

/** The first UTC day of `period` for a run at `atMs`, or undefined for all time. */
export function periodStartDay(period: Period, atMs: number): string | undefined {
  const { days } = PERIODS[period];
  return days === null ? undefined : utcDay(atMs - (days - 1) * DAY_MS);
}

/** Counts one message for its author (not bots, webhooks or system messages) and remembers their name. */
function countMessage(db: Db, names: Map<string, string>, message: Message, log: Logger): void {
  if (!message.inGuild() || message.author.bot || message.webhookId !== null || message.system) return;
  try {
    incrementMessageCount(db, message.guildId, message.author.id, utcDay(message.createdTimestamp));
    const name = message.member?.displayName ?? message.author.displayName;
    const key = `${message.guildId}:${message.author.id}`;
    // A name write only when it changed: the hot path is the one prepared upsert above.
    if (names.get(key) !== name) {
      rememberMember(db, message.guildId, message.author.id, name, Date.now());
      names.set(key, name);
    }
  } catch (error) {
    log.error({ err: error }, 'could not count a message for leaderboards');
  }
}

function renderBoard(
  rows: MemberCount[],
  isMember: (userId: string) => boolean,
  opts: LeaderboardOptions,
  at: Date,
): APIEmbed {
  const lines = rows.map((row, index) => {
    // Mentions in an embed never ping; a member who left would show as "<@123>", so they get their name.
    const who = isMember(row.userId)
      ? `<@${row.userId}>`
      : escapeMarkdown(row.displayName ?? `user ${row.userId}`);
    return `**${index + 1}.** ${who} — ${row.count} message${row.count === 1 ? '' : 's'}`;
  });
  return {
    title: opts.title,
    description: lines.length > 0 ? lines.join('\n') : 'No messages counted yet.',
    footer: { text: `${PERIODS[opts.period].label} (UTC days) · top ${opts.size}` },
    timestamp: at.toISOString(),
  };
}

export default defineHandler<LeaderboardOptions>({
  kind: 'leaderboard',
  description: 'Rank members by messages sent, in one message kept up to date',
  options,
  slashOptions: (b) =>
    b
      .addIntegerOption((o) =>
        o
          .setName('size')
          .setDescription('How many members to show (3–25, default 10)')
          .setMinValue(3)
          .setMaxValue(25),
      )
      .addStringOption((o) =>
        o
          .setName('period')
          .setDescription('Which messages count (UTC days; default: last 7 days)')
          .addChoices(
            { name: 'all time', value: 'all' },
            { name: 'last 30 days', value: 'month' },
            { name: 'last 7 days', value: 'week' },
            { name: 'today', value: 'day' },
          ),
      )
      .addStringOption((o) =>
        o.setName('title').setDescription('Title of the leaderboard').setMaxLength(256),
      ),
  setup({ client, db, log }: { client: Client; db: Db; log: Logger }) {
    const names = new Map<string, string>();
    const onMessage = (message: Message) => countMessage(db, names, message, log);
    client.on(Events.MessageCreate, onMessage);
    return () => {
      client.off(Events.MessageCreate, onMessage);
    };
  },
  channelPermissions: () => ['SendMessages', 'EmbedLinks'],
  async run(ctx) {
    const { task, guild, db, options: opts } = ctx;
    const fromDay = periodStartDay(opts.period, ctx.scheduledAt.getTime());
    const rows = topMessageCounts(db, guild.id, { ...(fromDay ? { fromDay } : {}), limit: opts.size });
    const embed = renderBoard(rows, (userId) => guild.members.cache.has(userId), opts, ctx.scheduledAt);
    const channel = ctx.channel;
    if (!channel?.isSendable()) {
      throw new Error(`the channel ${task.channelId} no longer exists or cannot take messages`);
    }
    const state = getLeaderboardState(db, task.id);
    // A task moved to another channel starts a new message there.
    if (state?.messageId && state.channelId === task.channelId) {
      try {
        await channel.messages.edit(state.messageId, { embeds: [embed], allowedMentions: { parse: [] } });
        return;
      } catch (error) {
        if (!(error instanceof DiscordAPIError && error.code === RESTJSONErrorCodes.UnknownMessage))
          throw error;
        ctx.log.info({ messageId: state.messageId }, 'leaderboard message was deleted; posting a new one');
      }
    }
    const posted = await ctx.send({ embeds: [embed] });
    saveLeaderboardState(db, { taskId: task.id, channelId: task.channelId, messageId: posted.id });
  },
});
