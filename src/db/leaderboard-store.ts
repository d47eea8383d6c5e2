// The leaderboard's data: messages counted per member per UTC day (kept 35 days), all-time totals kept
// beside them, the one-time backfill of those totals, members' last known names, and which guilds count.
import { and, asc, desc, eq, gte, lt, lte, sql } from 'drizzle-orm';
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
export function rememberMember(
  db: Db,
  guildId: string,
  userId: string,
  displayName: string,
  now: number,
): void {
  db.insert(membersSeen)
    .values({ guildId, userId, displayName, updatedAt: now })
    .onConflictDoUpdate({
      target: [membersSeen.guildId, membersSeen.userId],
      set: { displayName, updatedAt: now },
    })
    .run();
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

/** The guild's members with the most messages in the period, most first (ties: lower user id first). */
export function topMessageCounts(db: Db, guildId: string, period: CountPeriod): MemberCount[] {
  const total = sql<number>`sum(${messageCounts.count})`.mapWith(Number);
  const conditions = [eq(messageCounts.guildId, guildId)];
  if (period.fromDay) conditions.push(gte(messageCounts.day, period.fromDay));
  if (period.toDay) conditions.push(lte(messageCounts.day, period.toDay));
  return (
    db
      .select({ userId: messageCounts.userId, displayName: membersSeen.displayName, count: total })
      .from(messageCounts)
      .leftJoin(
        membersSeen,
        and(eq(membersSeen.guildId, messageCounts.guildId), eq(membersSeen.userId, messageCounts.userId)),
      )
      .where(and(...conditions))
      .groupBy(messageCounts.userId)
      // Ties rank by user id as a number: snowflakes have no leading zeros, so shorter means smaller.
      .orderBy(desc(total), asc(sql`length(${messageCounts.userId})`), asc(messageCounts.userId))
      .limit(period.limit)
      .all()
  );
}

/** Drops counts older than `beforeDay` (exclusive); returns how many rows went. */
export function pruneMessageCounts(db: Db, beforeDay: string): number {
  return db.delete(messageCounts).where(lt(messageCounts.day, beforeDay)).run().changes;
}

/** Counts `by` messages for a member on a UTC day and in their all-time total, in one transaction. */
export function countMemberMessages(db: Db, guildId: string, userId: string, day: string, by = 1): void {
  inTransaction(db, () => {
    incrementMessageCount(db, guildId, userId, day, by);
    prepared(db).incrementTotal.run({ guildId, userId, by });
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

/** The guild's members with the most messages of all time, most first (ties: lower user id first). */
export function topMessageTotals(db: Db, guildId: string, limit: number): MemberCount[] {
  return (
    db
      .select({
        userId: messageTotals.userId,
        displayName: membersSeen.displayName,
        count: messageTotals.count,
      })
      .from(messageTotals)
      .leftJoin(
        membersSeen,
        and(eq(membersSeen.guildId, messageTotals.guildId), eq(membersSeen.userId, messageTotals.userId)),
      )
      .where(eq(messageTotals.guildId, guildId))
      // Ties rank by user id as a number: snowflakes have no leading zeros, so shorter means smaller.
      .orderBy(
        desc(messageTotals.count),
        asc(sql`length(${messageTotals.userId})`),
        asc(messageTotals.userId),
      )
      .limit(limit)
      .all()
  );
}
