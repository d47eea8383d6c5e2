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
  type Db,
  getLeaderboardState,
  guildHasLeaderboard,
  type MemberCount,
  pruneMessageCounts,
  rankMembersByMessages,
  recordMessageBatch,
  saveLeaderboardState,
  utcDay,
} from '../../db/index.js';
import type { Logger } from '../../log.js';
import { defineHandler } from '../define.js';
import { fetchMembers } from '../members.js';

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

/** Which guilds count messages: one bot's (its leaderboard state), asked of that bot's database. */
class CountingGuilds {
  readonly #checked = new Map<string, { counting: boolean; atMs: number }>();

  counts(db: Db, guildId: string, nowMs: number): boolean {
    const known = this.#checked.get(guildId);
    const recheckMs = known?.counting ? COUNTING_RECHECK_MS : NOT_COUNTING_RECHECK_MS;
    if (known && nowMs - known.atMs < recheckMs) return known.counting;
    const counting = guildHasLeaderboard(db, guildId);
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

/** One bot's leaderboard state: which of its guilds count messages. */
export class LeaderboardState {
  readonly counting = new CountingGuilds();
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

  delete(key: string): void {
    this.#names.delete(key);
  }
}

/** Drops daily rows older than DAILY_ROWS_KEPT_DAYS before `nowMs`, in slices; returns how many went. */
export function pruneOldDailyCounts(db: Db, nowMs: number): Promise<number> {
  return pruneMessageCounts(db, firstOfLastDays(DAILY_ROWS_KEPT_DAYS, nowMs));
}

/** Rows (daily counts and names) written per transaction by the message counter. */
const FLUSH_MAX_ROWS = 100;

/** Removes and returns up to `max` entries of `map`, oldest first. */
function takeFirst<T>(map: Map<string, T>, max: number): T[] {
  const taken: T[] = [];
  for (const [key, value] of map) {
    if (taken.length >= max) break;
    taken.push(value);
    map.delete(key);
  }
  return taken;
}

/**
 * Counts messages for their authors (not bots, webhooks or system messages; only where a leaderboard
 * exists) and remembers their names. A busy server sends hundreds of messages a second: they are summed in
 * memory and written at the next turn of the event loop, a bounded batch per transaction, instead of one
 * transaction per message. What is pending when the process dies is lost: at most a turn's messages.
 */
class MessageCounter {
  readonly #db: Db;
  readonly #log: Logger;
  readonly #guilds: CountingGuilds;
  readonly #names = new BoundedNames(MAX_NAMES_CACHED);
  /** Messages not yet written, by guild, member and UTC day. */
  readonly #counts = new Map<string, { guildId: string; userId: string; day: string; by: number }>();
  readonly #changedNames = new Map<string, { guildId: string; userId: string; displayName: string }>();
  #flushScheduled = false;

  constructor(db: Db, log: Logger, guilds: CountingGuilds) {
    this.#db = db;
    this.#log = log;
    this.#guilds = guilds;
  }

  count(message: Message): void {
    if (!message.inGuild() || message.author.bot || message.webhookId !== null || message.system) return;
    try {
      if (!this.#guilds.counts(this.#db, message.guildId, Date.now())) return;
    } catch (error) {
      this.#log.error({ err: error }, 'could not count a message for leaderboards');
      return;
    }
    const { guildId } = message;
    const userId = message.author.id;
    const day = utcDay(message.createdTimestamp);
    const countKey = `${guildId}:${userId}:${day}`;
    const pending = this.#counts.get(countKey);
    if (pending) pending.by++;
    else this.#counts.set(countKey, { guildId, userId, day, by: 1 });
    const displayName = message.member?.displayName ?? message.author.displayName;
    const nameKey = `${guildId}:${userId}`;
    // A name write only when it changed.
    if (this.#names.get(nameKey) !== displayName) {
      this.#changedNames.set(nameKey, { guildId, userId, displayName });
      this.#names.set(nameKey, displayName);
    }
    this.#scheduleFlush();
  }

  /** Writes everything still pending now (the bot is stopping). */
  flushAll(): void {
    this.flush(Number.POSITIVE_INFINITY);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /**
   * Writes what was counted since the last flush, at most FLUSH_MAX_ROWS rows per transaction (a burst of
   * new members makes each row a write to a different page); the rest goes on at the next turn.
   */
  flush(maxRows = FLUSH_MAX_ROWS): void {
    this.#flushScheduled = false;
    const counts = takeFirst(this.#counts, maxRows);
    const names = takeFirst(this.#changedNames, maxRows - counts.length);
    if (this.#counts.size > 0 || this.#changedNames.size > 0) this.#scheduleFlush();
    if (counts.length === 0 && names.length === 0) return;
    try {
      recordMessageBatch(this.#db, { counts, names }, Date.now());
    } catch (error) {
      // Dropped, not retried: a database that refuses a write now would refuse an ever larger batch later.
      for (const { guildId, userId } of names) this.#names.delete(`${guildId}:${userId}`);
      const messages = counts.reduce((sum, { by }) => sum + by, 0);
      this.#log.error({ err: error, messages }, 'could not count messages for leaderboards');
    }
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

export default defineHandler<LeaderboardOptions, LeaderboardState>({
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
  createState: () => new LeaderboardState(),
  setup({ client, db, log, state }) {
    const guilds = state.counting;
    const counter = new MessageCounter(db, log, guilds);
    const onMessage = (message: Message) => counter.count(message);
    const onGuildDelete = (guild: Guild) => guilds.forget(guild.id);
    const prune = () => {
      pruneOldDailyCounts(db, Date.now()).then(
        (pruned) => {
          if (pruned > 0) log.info({ pruned }, 'old daily message counts pruned');
        },
        (error: unknown) => log.error({ err: error }, 'could not prune old message counts'),
      );
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
      // Before the database closes: what was counted this turn is written, not lost.
      counter.flushAll();
    };
  },
  channelPermissions: () => ['SendMessages', 'EmbedLinks'],
  async run(ctx) {
    const { task, guild, db, options: opts } = ctx;
    ctx.state.counting.markCounting(guild.id, Date.now());
    const fromDay = periodStartDay(opts.period, ctx.scheduledAt.getTime());
    const rows = await rankMembersByMessages(db, guild.id, {
      ...(fromDay === undefined ? {} : { fromDay }),
      limit: opts.size,
    });
    ctx.signal.throwIfAborted();
    // Asked of Discord for the few ranked: the member cache holds only the bot (createClient).
    const members =
      rows.length > 0
        ? await fetchMembers(
            guild,
            rows.map((row) => row.userId),
          )
        : new Map();
    ctx.signal.throwIfAborted();
    const embed = renderBoard(rows, (userId) => members.has(userId), opts, ctx.scheduledAt);
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
