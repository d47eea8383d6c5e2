// The leaderboard's data: messages counted per member per UTC day (kept 35 days), all-time totals kept
// beside them, the one-time backfill of those totals, members' last known names, and which guilds count.
//
// What the bot does with a large server's data never holds the event loop for long: rankings and the prune
// work through it in slices of about PAGE_ROWS rows with a turn of the event loop between slices (one query
// over a month of a 100,000-member server took a second), and message counts are written in batches.
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from './connection.js';
import { membersSeen, messageCounts, messageTotals, tasks } from './schema.js';
import { getMeta, inTransaction, perDb, setMeta } from './store.js';

const TOTALS_BACKFILLED_KEY = 'leaderboard.totals_backfilled';

function prepareIncrementTotal(db: Db) {
  return db
    .insert(messageTotals)
    .values({
      guildId: sql.placeholder('guildId'),
      userId: sql.placeholder('userId'),
      count: sql.placeholder('by'),
    })
    .onConflictDoUpdate({
      target: [messageTotals.guildId, messageTotals.userId],
      set: { count: sql`${messageTotals.count} + excluded.count` },
    })
    .prepare();
}

function prepareIncrementCount(db: Db) {
  return db
    .insert(messageCounts)
    .values({
      guildId: sql.placeholder('guildId'),
      userId: sql.placeholder('userId'),
      day: sql.placeholder('day'),
      count: sql.placeholder('by'),
    })
    .onConflictDoUpdate({
      target: [messageCounts.guildId, messageCounts.userId, messageCounts.day],
      set: { count: sql`${messageCounts.count} + excluded.count` },
    })
    .prepare();
}

function prepareRememberMember(db: Db) {
  return db
    .insert(membersSeen)
    .values({
      guildId: sql.placeholder('guildId'),
      userId: sql.placeholder('userId'),
      displayName: sql.placeholder('displayName'),
      updatedAt: sql.placeholder('now'),
    })
    .onConflictDoUpdate({
      target: [membersSeen.guildId, membersSeen.userId],
      set: { displayName: sql`excluded.display_name`, updatedAt: sql`excluded.updated_at` },
    })
    .prepare();
}

function prepareGuildHasLeaderboard(db: Db) {
  // (guild_id, name) is indexed, so this reads one guild's few tasks, not the table.
  return db
    .select({ one: sql<number>`1` })
    .from(tasks)
    .where(and(eq(tasks.guildId, sql.placeholder('guildId')), eq(tasks.kind, 'leaderboard')))
    .limit(1)
    .prepare();
}

const prepared = perDb((db) => ({
  incrementCount: prepareIncrementCount(db),
  incrementTotal: prepareIncrementTotal(db),
  // Prepared once: building the statement each time cost more than the write (a batch names many members).
  rememberMember: prepareRememberMember(db),
  guildHasLeaderboard: prepareGuildHasLeaderboard(db),
}));

/** The UTC day of an instant, as message_counts stores it: 'YYYY-MM-DD'. */
export function utcDay(instantMs: number): string {
  return new Date(instantMs).toISOString().slice(0, 10);
}

/** Counts `by` messages for a member on a UTC day (called from the gateway's message events). */
export function incrementMessageCount(db: Db, guildId: string, userId: string, day: string, by = 1): void {
  prepared(db).incrementCount.run({ guildId, userId, day, by });
}

/** Remembers a member's display name so leaderboards can show members who have since left. */
function rememberMember(db: Db, guildId: string, userId: string, displayName: string, now: number): void {
  prepared(db).rememberMember.run({ guildId, userId, displayName, now });
}

export interface CountPeriod {
  /** First UTC day included ('YYYY-MM-DD'); omit for all time. */
  fromDay?: string;
  /** Last UTC day included; omit for up to today. */
  toDay?: string;
  limit: number;
}

export interface MemberCount {
  userId: string;
  displayName: string | null;
  count: number;
}

/** Index entries one slice of a ranking reads: a few milliseconds of work each. */
export const PAGE_ROWS = 2_000;
/** Rows one slice of a prune deletes: a delete also rewrites both indexes, so fewer than a read. */
export const PRUNE_PAGE_ROWS = 500;

/** Lets the gateway, commands and timers in between two slices of a long read or delete. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function preparePaged(db: Db) {
  const sqlite = db.$client;
  return {
    // Walks the primary key (guild_id, user_id, day): the user id `offset` index entries past `after`.
    userAfterRows: sqlite
      .prepare(
        'SELECT user_id FROM message_counts WHERE guild_id = ? AND user_id > ? ORDER BY user_id LIMIT 1 OFFSET ?',
      )
      .pluck(),
    // One slice of members summed over the period. `+day` keeps the planner on the primary key, which
    // serves the user range and the grouping; the (guild_id, day) index would sort the whole period.
    periodSums: sqlite
      .prepare(
        `SELECT user_id, sum(count) FROM message_counts
         WHERE guild_id = @guildId AND user_id > @after AND user_id <= @upTo AND +day >= @fromDay AND +day <= @toDay
         GROUP BY user_id`,
      )
      .raw(),
    totals: sqlite
      .prepare(
        'SELECT user_id, count FROM message_totals WHERE guild_id = ? AND user_id > ? ORDER BY user_id LIMIT ?',
      )
      .raw(),
    displayName: sqlite
      .prepare('SELECT display_name FROM members_seen WHERE guild_id = ? AND user_id = ?')
      .pluck(),
    guildAfter: sqlite
      .prepare('SELECT guild_id FROM message_counts WHERE guild_id > ? ORDER BY guild_id LIMIT 1')
      .pluck(),
    deleteOlder: sqlite.prepare(
      `DELETE FROM message_counts WHERE rowid IN
         (SELECT rowid FROM message_counts WHERE guild_id = ? AND day < ? LIMIT ?)`,
    ),
  };
}

const paged = perDb(preparePaged);

/** Higher than every snowflake in text order: the upper bound of the last slice. */
const PAST_EVERY_USER_ID = '~';
const NO_DAY_BEFORE = '';
const NO_DAY_AFTER = '~';

/** Most messages first; ties by user id as a number (snowflakes have no leading zeros: shorter is smaller). */
function ranksBefore(a: { userId: string; count: number }, b: { userId: string; count: number }): boolean {
  if (a.count !== b.count) return a.count > b.count;
  if (a.userId.length !== b.userId.length) return a.userId.length < b.userId.length;
  return a.userId < b.userId;
}

/** The best `limit` members offered so far, in rank order. */
class TopMembers {
  readonly #limit: number;
  readonly rows: { userId: string; count: number }[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  offer(userId: string, count: number): void {
    const rows = this.rows;
    const candidate = { userId, count };
    if (rows.length >= this.#limit && !ranksBefore(candidate, rows[rows.length - 1]!)) return;
    let at = rows.length;
    while (at > 0 && ranksBefore(candidate, rows[at - 1]!)) at--;
    rows.splice(at, 0, candidate);
    if (rows.length > this.#limit) rows.pop();
  }
}

export interface PagedCountPeriod extends CountPeriod {
  /** Index entries read per slice (default PAGE_ROWS); tests make it small to cross many slices. */
  pageRows?: number;
}

/**
 * The guild's members with the most messages in the period (all time without `fromDay`/`toDay`), most
 * first, ties by lower user id, read in slices with the event loop free in between. Messages counted while
 * it reads may or may not be included.
 */
export async function rankMembersByMessages(
  db: Db,
  guildId: string,
  period: PagedCountPeriod,
): Promise<MemberCount[]> {
  const statements = paged(db);
  const pageRows = period.pageRows ?? PAGE_ROWS;
  const top = new TopMembers(period.limit);
  const allTime = period.fromDay === undefined && period.toDay === undefined;
  for (let after = ''; ; ) {
    if (allTime) {
      const rows = statements.totals.all(guildId, after, pageRows) as [string, number][];
      for (const [userId, count] of rows) top.offer(userId, count);
      if (rows.length < pageRows) break;
      after = rows[rows.length - 1]![0];
    } else {
      const upTo =
        (statements.userAfterRows.get(guildId, after, pageRows - 1) as string | undefined) ??
        PAST_EVERY_USER_ID;
      const rows = statements.periodSums.all({
        guildId,
        after,
        upTo,
        fromDay: period.fromDay ?? NO_DAY_BEFORE,
        toDay: period.toDay ?? NO_DAY_AFTER,
      }) as [string, number][];
      for (const [userId, count] of rows) top.offer(userId, count);
      if (upTo === PAST_EVERY_USER_ID) break;
      after = upTo;
    }
    await yieldToEventLoop();
  }
  return top.rows.map(({ userId, count }) => ({
    userId,
    displayName: (statements.displayName.get(guildId, userId) as string | undefined) ?? null,
    count,
  }));
}

/**
 * Drops counts older than `beforeDay` (exclusive), guild by guild through the (guild_id, day) index, at most
 * `pageRows` rows per transaction with the event loop free in between; returns how many rows went.
 */
export async function pruneMessageCounts(
  db: Db,
  beforeDay: string,
  pageRows = PRUNE_PAGE_ROWS,
): Promise<number> {
  const statements = paged(db);
  let pruned = 0;
  for (let guildId = statements.guildAfter.get('') as string | undefined; guildId !== undefined; ) {
    const deleted = statements.deleteOlder.run(guildId, beforeDay, pageRows).changes;
    pruned += deleted;
    if (deleted < pageRows) guildId = statements.guildAfter.get(guildId) as string | undefined;
    await yieldToEventLoop();
  }
  return pruned;
}

export interface MessageCountBatch {
  /** Messages per member and UTC day. */
  counts: Iterable<{ guildId: string; userId: string; day: string; by: number }>;
  /** Display names that changed. */
  names: Iterable<{ guildId: string; userId: string; displayName: string }>;
}

/** Writes a batch of counted messages (daily rows and totals) and changed names in one transaction. */
export function recordMessageBatch(db: Db, batch: MessageCountBatch, now: number): void {
  inTransaction(db, () => {
    for (const { guildId, userId, day, by } of batch.counts) {
      incrementMessageCount(db, guildId, userId, day, by);
      prepared(db).incrementTotal.run({ guildId, userId, by });
    }
    for (const { guildId, userId, displayName } of batch.names) {
      rememberMember(db, guildId, userId, displayName, now);
    }
  });
}

/** Whether the guild has a leaderboard task (in any state: a stopped board may be started again). */
export function guildHasLeaderboard(db: Db, guildId: string): boolean {
  return prepared(db).guildHasLeaderboard.get({ guildId }) !== undefined;
}

/**
 * Once per database: totals start as the sum of the daily rows counted before message_totals existed.
 * Must run before the first prune, while the daily rows still hold every day counted.
 */
export function backfillMessageTotals(db: Db): boolean {
  return inTransaction(db, () => {
    if (getMeta(db, TOTALS_BACKFILLED_KEY) !== undefined) return false;
    // Totals counted since the table appeared are in the daily rows too, so the sum replaces them exactly.
    db.run(sql`
      INSERT INTO ${messageTotals} (guild_id, user_id, count)
      SELECT ${messageCounts.guildId}, ${messageCounts.userId}, sum(${messageCounts.count})
      FROM ${messageCounts} WHERE true
      GROUP BY ${messageCounts.guildId}, ${messageCounts.userId}
      ON CONFLICT (guild_id, user_id) DO UPDATE SET count = excluded.count`);
    setMeta(db, TOTALS_BACKFILLED_KEY, '1');
    return true;
  });
}
