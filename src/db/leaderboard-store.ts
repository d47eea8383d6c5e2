// Queries of the leaderboard's message counts beyond the daily rows in store.ts: all-time totals kept beside
// them (pruning the daily rows is store.ts' pruneMessageCounts), the one-time backfill of those totals,
// and which guilds count at all.
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { Db } from './connection.js';
import { membersSeen, messageCounts, messageTotals, tasks } from './schema.js';
import { getMeta, incrementMessageCount, inTransaction, type MemberCount, setMeta } from './store.js';

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

function prepareGuildHasLeaderboard(db: Db) {
  // (guild_id, name) is indexed, so this reads one guild's few tasks, not the table.
  return db
    .select({ one: sql<number>`1` })
    .from(tasks)
    .where(and(eq(tasks.guildId, sql.placeholder('guildId')), eq(tasks.kind, 'leaderboard')))
    .limit(1)
    .prepare();
}

interface Statements {
  incrementTotal: ReturnType<typeof prepareIncrementTotal>;
  guildHasLeaderboard: ReturnType<typeof prepareGuildHasLeaderboard>;
}

const statements = new WeakMap<Db, Statements>();

function prepared(db: Db): Statements {
  let found = statements.get(db);
  if (!found) {
    found = {
      incrementTotal: prepareIncrementTotal(db),
      guildHasLeaderboard: prepareGuildHasLeaderboard(db),
    };
    statements.set(db, found);
  }
  return found;
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
