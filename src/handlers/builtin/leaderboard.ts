// leaderboard: ranks members by the messages they sent, counted from the gateway (messageCreate) per
// member per UTC day; only counts are stored, never content. One message per task, edited in place each
// run and re-posted if it was deleted.
//
// Periods are rolling windows of whole UTC days ending with the day of the run's slot: `day` is that day,
// `week` the last 7 days, `month` the last 30 days (today included), `all` every message counted (read from
// the all-time totals, since daily rows older than DAILY_ROWS_KEPT_DAYS are pruned once a day).
//
// Messages are counted only in guilds with a leaderboard task (in any state), so a server without one
// stores nothing. Whether a guild has one is cached: a "no" is asked again after NOT_COUNTING_RECHECK_MS
// (so a new board starts counting within seconds; its first run starts it at once), a "yes" after
// COUNTING_RECHECK_MS (so a deleted board's guild stops soon). Messages sent before a board existed are not
// on it.
import {
  type APIEmbed,
  type Client,
  DiscordAPIError,
  Events,
  escapeMarkdown,
  type Guild,
  type Message,
  RESTJSONErrorCodes,
} from 'discord.js';
import { z } from 'zod';
import {
  backfillMessageTotals,
  countMemberMessages,
  type Db,
  getLeaderboardState,
  guildHasLeaderboard,
  type MemberCount,
  pruneMessageCounts,
  rememberMember,
  saveLeaderboardState,
  topMessageCounts,
  topMessageTotals,
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

/** The first UTC day of the `days` whole UTC days that end with the day of `atMs`. */
function firstOfLastDays(days: number, atMs: number): string {
  return utcDay(atMs - (days - 1) * DAY_MS);
}

/** The first UTC day of `period` for a run at `atMs`, or undefined for all time. */
export function periodStartDay(period: Period, atMs: number): string | undefined {
  const { days } = PERIODS[period];
  return days === null ? undefined : firstOfLastDays(days, atMs);
}

/** Daily rows kept: the longest rolling period (30 days) plus a margin; older days live on in the totals. */
export const DAILY_ROWS_KEPT_DAYS = 35;
const PRUNE_EVERY_MS = DAY_MS;
/** How long a guild without a leaderboard task is taken not to count before the database is asked again. */
export const NOT_COUNTING_RECHECK_MS = 5_000;
/** How long a guild with one is taken to count before the database is asked again. */
export const COUNTING_RECHECK_MS = 60_000;
/** Display names remembered in memory (to skip unchanged name writes); the least recently seen go first. */
export const MAX_NAMES_CACHED = 10_000;

/** Which guilds count messages, per database (tests run several bots in one process). */
class CountingGuilds {
  readonly #db: Db;
  readonly #checked = new Map<string, { counting: boolean; atMs: number }>();

  constructor(db: Db) {
    this.#db = db;
  }

  counts(guildId: string, nowMs: number): boolean {
    const known = this.#checked.get(guildId);
    const recheckMs = known?.counting ? COUNTING_RECHECK_MS : NOT_COUNTING_RECHECK_MS;
    if (known && nowMs - known.atMs < recheckMs) return known.counting;
    const counting = guildHasLeaderboard(this.#db, guildId);
    this.#checked.set(guildId, { counting, atMs: nowMs });
    return counting;
  }

  /** A leaderboard ran here: count from now on without waiting for the recheck. */
  markCounting(guildId: string, nowMs: number): void {
    this.#checked.set(guildId, { counting: true, atMs: nowMs });
  }

  forget(guildId: string): void {
    this.#checked.delete(guildId);
  }
}

const countingGuilds = new WeakMap<Db, CountingGuilds>();

function countingGuildsOf(db: Db): CountingGuilds {
  let guilds = countingGuilds.get(db);
  if (!guilds) {
    guilds = new CountingGuilds(db);
    countingGuilds.set(db, guilds);
  }
  return guilds;
}

/** A Map that keeps at most `max` entries, dropping the least recently used. */
class BoundedNames {
  readonly #names = new Map<string, string>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#names.size;
  }

  get(key: string): string | undefined {
    const name = this.#names.get(key);
    if (name !== undefined) {
      this.#names.delete(key);
      this.#names.set(key, name);
    }
    return name;
  }

  set(key: string, name: string): void {
    this.#names.delete(key);
    this.#names.set(key, name);
    if (this.#names.size > this.#max) this.#names.delete(this.#names.keys().next().value!);
  }
}

/** Drops daily rows older than DAILY_ROWS_KEPT_DAYS before `nowMs`; returns how many went. */
export function pruneOldDailyCounts(db: Db, nowMs: number): number {
  return pruneMessageCounts(db, firstOfLastDays(DAILY_ROWS_KEPT_DAYS, nowMs));
}

/**
 * Counts one message for its author (not bots, webhooks or system messages; only where a leaderboard
 * exists) and remembers their name.
 */
function countMessage(
  db: Db,
  guilds: CountingGuilds,
  names: BoundedNames,
  message: Message,
  log: Logger,
): void {
  if (!message.inGuild() || message.author.bot || message.webhookId !== null || message.system) return;
  try {
    if (!guilds.counts(message.guildId, Date.now())) return;
    countMemberMessages(db, message.guildId, message.author.id, utcDay(message.createdTimestamp));
    const name = message.member?.displayName ?? message.author.displayName;
    const key = `${message.guildId}:${message.author.id}`;
    // A name write only when it changed: the hot path is the one transaction above.
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
    const guilds = countingGuildsOf(db);
    const names = new BoundedNames(MAX_NAMES_CACHED);
    const onMessage = (message: Message) => countMessage(db, guilds, names, message, log);
    const onGuildDelete = (guild: Guild) => guilds.forget(guild.id);
    const prune = () => {
      try {
        const pruned = pruneOldDailyCounts(db, Date.now());
        if (pruned > 0) log.info({ pruned }, 'old daily message counts pruned');
      } catch (error) {
        log.error({ err: error }, 'could not prune old message counts');
      }
    };
    // Totals first, while the daily rows still hold every day counted before the totals table existed.
    if (backfillMessageTotals(db)) log.info('all-time message totals filled from the daily counts');
    prune();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const armDailyPrune = () => {
      timer = setTimeout(() => {
        prune();
        armDailyPrune();
      }, PRUNE_EVERY_MS);
      timer.unref?.();
    };
    armDailyPrune();
    client.on(Events.MessageCreate, onMessage);
    client.on(Events.GuildDelete, onGuildDelete);
    return () => {
      clearTimeout(timer);
      client.off(Events.MessageCreate, onMessage);
      client.off(Events.GuildDelete, onGuildDelete);
    };
  },
  channelPermissions: () => ['SendMessages', 'EmbedLinks'],
  async run(ctx) {
    const { task, guild, db, options: opts } = ctx;
    countingGuildsOf(db).markCounting(guild.id, Date.now());
    const fromDay = periodStartDay(opts.period, ctx.scheduledAt.getTime());
    const rows =
      fromDay === undefined
        ? topMessageTotals(db, guild.id, opts.size)
        : topMessageCounts(db, guild.id, { fromDay, limit: opts.size });
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
