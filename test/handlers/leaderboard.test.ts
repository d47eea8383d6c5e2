import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayOpcodes } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type Db, incrementMessageCount, openDatabase, utcDay } from '../../src/db/index.js';
import {
  backfillMessageTotals,
  type MemberCount,
  pruneMessageCounts,
  rankMembersByMessages,
  recordMessageBatch,
} from '../../src/db/leaderboard-store.js';
import {
  COUNTING_RECHECK_MS,
  NOT_COUNTING_RECHECK_MS,
  periodStartDay,
  pruneOldDailyCounts,
} from '../../src/handlers/builtin/leaderboard.js';
import { advance, type Bot, eventually, MINUTE, runsRecorded, startBot } from './helpers.js';

let bot: Bot;

afterEach(async () => {
  await bot?.close();
});

/** Counts messages as the gateway's counter writes them: the daily row and the all-time total together. */
function countMessages(db: Db, guildId: string, userId: string, day: string, by = 1): void {
  recordMessageBatch(db, { counts: [{ guildId, userId, day, by }], names: [] }, 0);
}

/** The ranking worked out in memory from what was counted: most first, ties by lower snowflake. */
function rankedByHand(
  counted: readonly { userId: string; day: string; by: number }[],
  period: { fromDay?: string; toDay?: string; limit: number },
): MemberCount[] {
  const sums = new Map<string, number>();
  for (const { userId, day, by } of counted) {
    if ((period.fromDay && day < period.fromDay) || (period.toDay && day > period.toDay)) continue;
    sums.set(userId, (sums.get(userId) ?? 0) + by);
  }
  return [...sums]
    .sort(([a, x], [b, y]) => y - x || (BigInt(a) < BigInt(b) ? -1 : 1))
    .slice(0, period.limit)
    .map(([userId, count]) => ({ userId, displayName: null, count }));
}

/** Posts `n` messages as `userId` in #general and waits until they are all counted. */
async function say(userId: string, n: number): Promise<void> {
  const counted = async () =>
    (await rankMembersByMessages(bot.connection.db, bot.guild.id, { limit: 100 })).find(
      (row) => row.userId === userId,
    )?.count ?? 0;
  const before = await counted();
  for (let i = 0; i < n; i++) {
    bot.emulator.world.postMessage({
      channel: bot.guild.channels.general!,
      author: userId,
      content: `hello ${i}`,
    });
  }
  await eventually(async () => expect(await counted()).toBe(before + n));
}

function totalsByUser(): Record<string, number> {
  const rows = bot.connection.sqlite
    .prepare('SELECT user_id AS userId, count FROM message_totals WHERE guild_id = ?')
    .all(bot.guild.id) as { userId: string; count: number }[];
  return Object.fromEntries(rows.map((row) => [row.userId, row.count]));
}

function dailySumsByUser(): Record<string, number> {
  const rows = bot.connection.sqlite
    .prepare(
      'SELECT user_id AS userId, sum(count) AS count FROM message_counts WHERE guild_id = ? GROUP BY user_id',
    )
    .all(bot.guild.id) as { userId: string; count: number }[];
  return Object.fromEntries(rows.map((row) => [row.userId, row.count]));
}

function days(): string[] {
  const rows = bot.connection.sqlite
    .prepare('SELECT DISTINCT day FROM message_counts ORDER BY day')
    .all() as {
    day: string;
  }[];
  return rows.map((row) => row.day);
}

/** Counts the messages the client emits, per channel, from now on (it caches only its own). */
function watchMessages(): Map<string, number> {
  const seen = new Map<string, number>();
  bot.client.on('messageCreate', (message) =>
    seen.set(message.channelId, (seen.get(message.channelId) ?? 0) + 1),
  );
  return seen;
}

/** Waits until the client has handled (emitted) `n` messages in the channel since `emitted` began. */
async function handled(emitted: Map<string, number>, channelId: string, n: number): Promise<void> {
  await eventually(() => expect(emitted.get(channelId) ?? 0).toBe(n));
}

function boardText(messageId: string): string {
  return bot.emulator.world.message(messageId).message.embeds[0]?.description ?? '';
}

describe('leaderboard', () => {
  it('ranks members (bots ignored, ties by user id), edits in place, re-posts after deletion, names the departed', async () => {
    bot = await startBot();
    const { members, channels } = bot.guild;
    const world = bot.emulator.world;
    const alice = members.alice!;
    const bob = members.bob!;
    const carol = world.addMember(bot.guild.id, { user: { username: 'carol', globalName: 'Carol C' } });
    // Messages count only where a leaderboard exists: create it first, start it once they are counted.
    await bot.create(
      {
        name: 'top',
        kind: 'leaderboard',
        options: { size: 3, period: 'all', title: 'Chatterboxes' },
        start: false,
      },
      'stats',
    );
    // Bob's id is lower than Carol's: with equal counts he ranks first.
    expect(BigInt(bob) < BigInt(carol)).toBe(true);
    await say(carol, 2);
    await say(bob, 2);
    // A bot's messages and a webhook's are not counted (Alice's, sent after them, show they were seen).
    for (let i = 0; i < 5; i++) {
      world.postMessage({ channel: channels.general!, author: members['helper-bot']!, content: 'beep' });
    }
    world.createMessage({
      channel: channels.general!,
      author: bob,
      content: 'hook',
      webhookId: world.snowflakes.next(),
    });
    await say(alice, 3);

    await bot.runtime.start(bot.guild.id, 'top');
    await advance(0);
    await runsRecorded(bot, 'top', 1);
    expect(world.messages(channels.stats!)).toHaveLength(1);
    const board = world.messages(channels.stats!)[0]!;
    expect(board.message.embeds[0]?.title).toBe('Chatterboxes');
    expect(boardText(board.message.id)).toBe(
      [
        `**1.** <@${alice}> — 3 messages`,
        `**2.** <@${bob}> — 2 messages`,
        `**3.** <@${carol}> — 2 messages`,
      ].join('\n'),
    );
    expect(board.pings).toEqual({ users: [], roles: [], everyone: false });
    const stored = bot.connection.sqlite.prepare('SELECT * FROM message_counts').all();
    expect(JSON.stringify(stored)).not.toContain('hello');

    // Carol overtakes and then leaves: the next run edits the same message and shows her last known name.
    await say(carol, 2);
    const guild = bot.client.guilds.cache.get(bot.guild.id)!;
    const before = guild.memberCount;
    world.removeMember(bot.guild.id, carol);
    await eventually(() => expect(guild.memberCount).toBe(before - 1));
    await advance(MINUTE);
    await runsRecorded(bot, 'top', 2);
    // Who is still a member is asked of Discord for the ranked only (the client caches only itself).
    const asked = bot.emulator.gateway.frames.entries
      .filter((f) => f.direction === 'received' && f.op === GatewayOpcodes.RequestGuildMembers)
      .map((f) => (f.d as { user_ids?: string[] }).user_ids);
    expect(asked).toHaveLength(2);
    expect(asked[1]).toEqual([carol, alice, bob]);
    expect([...guild.members.cache.keys()]).toEqual([bot.client.user!.id]);
    expect(world.messages(channels.stats!)).toHaveLength(1);
    expect(boardText(board.message.id)).toBe(
      [
        `**1.** Carol C — 4 messages`,
        `**2.** <@${alice}> — 3 messages`,
        `**3.** <@${bob}> — 2 messages`,
      ].join('\n'),
    );

    world.deleteMessage(board.message.id);
    await advance(MINUTE);
    await runsRecorded(bot, 'top', 3);
    expect(world.messages(channels.stats!)).toHaveLength(1);
    const reposted = world.messages(channels.stats!)[0]!;
    expect(reposted.message.id).not.toBe(board.message.id);
    expect(boardText(reposted.message.id)).toContain('**1.** Carol C — 4 messages');

    // And that new message is the one edited from then on.
    await say(bob, 1);
    await advance(MINUTE);
    await runsRecorded(bot, 'top', 4);
    expect(boardText(reposted.message.id)).toContain(`<@${bob}> — 3 messages`);
    expect(world.messages(channels.stats!)).toHaveLength(1);
    expect(bot.runtime.info(bot.guild.id, 'top').runs.map((r) => r.outcome)).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
    ]);
    // The all-time totals and the daily rows agree (nothing has been pruned yet).
    expect(totalsByUser()).toEqual(dailySumsByUser());
    expect(totalsByUser()).toEqual({ [alice]: 3, [bob]: 3, [carol]: 4 });
  });

  it('counts nothing in a server without a leaderboard task, and starts soon after one is created', async () => {
    bot = await startBot();
    const emitted = watchMessages();
    const { members, channels } = bot.guild;
    const world = bot.emulator.world;
    for (let i = 0; i < 5; i++) {
      world.postMessage({ channel: channels.general!, author: members.alice!, content: `early ${i}` });
    }
    await handled(emitted, channels.general!, 5);
    await bot.create(
      { name: 'board', kind: 'leaderboard', options: { period: 'all' }, start: false },
      'stats',
    );
    await advance(NOT_COUNTING_RECHECK_MS);
    await say(members.alice!, 1);
    expect(dailySumsByUser()).toEqual({ [members.alice!]: 1 });
    expect(totalsByUser()).toEqual({ [members.alice!]: 1 });
    const seen = bot.connection.sqlite.prepare('SELECT count(*) AS n FROM members_seen').get() as {
      n: number;
    };
    expect(seen.n).toBe(1);

    // Deleting the last board stops counting (after the recheck).
    await bot.runtime.delete(bot.guild.id, 'board');
    await advance(COUNTING_RECHECK_MS);
    for (let i = 0; i < 3; i++) {
      world.postMessage({ channel: channels.general!, author: members.bob!, content: `late ${i}` });
    }
    await handled(emitted, channels.general!, 9);
    await bot.create({ name: 'again', kind: 'leaderboard', options: {}, start: false }, 'stats');
    await advance(NOT_COUNTING_RECHECK_MS);
    await say(members.alice!, 1);
    expect(dailySumsByUser()).toEqual({ [members.alice!]: 2 });
  });

  it('keeps daily rows for 35 days, pruned at start-up and daily; the all-time board keeps every message', async () => {
    const now = Date.UTC(2025, 4, 20, 12, 0);
    bot = await startBot({ now });
    const { members, channels } = bot.guild;
    const db = bot.connection.db;
    const alice = members.alice!;
    const bob = members.bob!;
    const daysAgo = (n: number) => utcDay(now - n * 86_400_000);
    countMessages(db, bot.guild.id, alice, daysAgo(200), 40);
    countMessages(db, bot.guild.id, alice, daysAgo(34), 2);
    countMessages(db, bot.guild.id, bob, daysAgo(3), 5);
    expect(await pruneOldDailyCounts(db, now)).toBe(1);
    expect(days()).toEqual([daysAgo(34), daysAgo(3)]);
    expect(totalsByUser()).toEqual({ [alice]: 42, [bob]: 5 });

    await bot.create({ name: 'ever', kind: 'leaderboard', options: { period: 'all' }, count: 1 }, 'stats');
    await bot.create(
      { name: 'month', kind: 'leaderboard', options: { period: 'month' }, count: 1 },
      'general',
    );
    await advance(0);
    await runsRecorded(bot, 'ever', 1);
    await runsRecorded(bot, 'month', 1);
    expect(bot.emulator.world.messages(channels.stats!)).toHaveLength(1);
    expect(bot.emulator.world.messages(channels.general!)).toHaveLength(1);
    expect(bot.emulator.world.messages(channels.stats!)[0]!.message.embeds[0]!.description).toBe(
      `**1.** <@${alice}> — 42 messages\n**2.** <@${bob}> — 5 messages`,
    );
    expect(bot.emulator.world.messages(channels.general!)[0]!.message.embeds[0]!.description).toBe(
      `**1.** <@${bob}> — 5 messages`,
    );

    // A day later the daily timer drops the day that aged out; the totals do not change.
    await advance(86_400_000);
    await eventually(() => expect(days()).toEqual([daysAgo(3)]));
    expect(totalsByUser()).toEqual({ [alice]: 42, [bob]: 5 });
  });

  it('fills the all-time totals from the daily rows once, for counts made before the totals existed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metronome-totals-'));
    const connection = openDatabase(join(dir, 'test.db'));
    try {
      const { db } = connection;
      incrementMessageCount(db, 'g1', '100000000000000001', '2024-01-01', 7);
      incrementMessageCount(db, 'g1', '100000000000000001', '2025-01-01', 3);
      incrementMessageCount(db, 'g2', '100000000000000002', '2025-01-01', 1);
      expect(backfillMessageTotals(db)).toBe(true);
      expect(await rankMembersByMessages(db, 'g1', { limit: 10 })).toEqual([
        { userId: '100000000000000001', displayName: null, count: 10 },
      ]);
      countMessages(db, 'g2', '100000000000000002', '2025-01-02');
      expect(backfillMessageTotals(db)).toBe(false);
      expect(await rankMembersByMessages(db, 'g2', { limit: 10 })).toEqual([
        { userId: '100000000000000002', displayName: null, count: 2 },
      ]);
    } finally {
      connection.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts only the period: rolling UTC days ending with the run day', async () => {
    const now = Date.UTC(2025, 4, 20, 12, 0);
    bot = await startBot({ now });
    const { members, channels } = bot.guild;
    const db = bot.connection.db;
    incrementMessageCount(db, bot.guild.id, members.alice!, utcDay(now - 10 * 86_400_000), 50);
    incrementMessageCount(db, bot.guild.id, members.bob!, utcDay(now - 3 * 86_400_000), 5);
    incrementMessageCount(db, bot.guild.id, members.alice!, utcDay(now), 1);
    await bot.create({ name: 'week', kind: 'leaderboard', options: { period: 'week' } }, 'stats');
    await bot.create({ name: 'today', kind: 'leaderboard', options: { period: 'day' } }, 'general');
    await advance(0);
    await runsRecorded(bot, 'week', 1);
    await runsRecorded(bot, 'today', 1);
    expect(bot.emulator.world.messages(channels.stats!)).toHaveLength(1);
    expect(bot.emulator.world.messages(channels.general!)).toHaveLength(1);
    const week = bot.emulator.world.messages(channels.stats!)[0]!.message.embeds[0]!;
    expect(week.description).toBe(
      `**1.** <@${members.bob}> — 5 messages\n**2.** <@${members.alice}> — 1 message`,
    );
    expect(week.footer?.text).toBe('Last 7 days (UTC days) · top 10');
    const today = bot.emulator.world.messages(channels.general!)[0]!.message.embeds[0]!;
    expect(today.description).toBe(`**1.** <@${members.alice}> — 1 message`);
  });

  it('ranks in slices exactly as the counts add up, letting the event loop run between slices', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metronome-rank-'));
    const connection = openDatabase(join(dir, 'test.db'));
    try {
      const { db } = connection;
      // Ids of different lengths and many ties, so the order within equal counts is tested too.
      const users = Array.from({ length: 60 }, (_, i) => String(10n ** BigInt(16 + (i % 4)) + BigInt(i)));
      const dayOf = (n: number) => utcDay(Date.UTC(2025, 0, 1) + n * 86_400_000);
      const seeded: { userId: string; day: string; by: number }[] = [];
      for (const [i, userId] of users.entries()) {
        for (let day = i % 5; day < 20; day += 1 + (i % 3)) {
          const by = 1 + ((i * 7 + day) % 4);
          countMessages(db, 'g1', userId, dayOf(day), by);
          seeded.push({ userId, day: dayOf(day), by });
        }
        countMessages(db, 'g2', userId, dayOf(3), 100);
      }
      for (const period of [
        { limit: 25 },
        { fromDay: dayOf(13), limit: 10 },
        { fromDay: dayOf(19), limit: 25 },
        { fromDay: dayOf(2), toDay: dayOf(9), limit: 7 },
      ]) {
        const expected = rankedByHand(seeded, period);
        expect(expected).toHaveLength(period.limit);
        let turns = 0;
        const countTurns = () => {
          turns++;
          if (turns < 1_000) setImmediate(countTurns);
        };
        setImmediate(countTurns);
        expect(await rankMembersByMessages(db, 'g1', { ...period, pageRows: 7 })).toEqual(expected);
        // At least one turn of the event loop per slice of 7 rows.
        expect(turns).toBeGreaterThan(5);
        turns = 1_000;
      }
      expect(await rankMembersByMessages(db, 'nowhere', { limit: 5, pageRows: 7 })).toEqual([]);
    } finally {
      connection.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prunes in slices, guild by guild, keeping every day from the cut-off on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metronome-prune-'));
    const connection = openDatabase(join(dir, 'test.db'));
    try {
      const { db } = connection;
      for (const guildId of ['g1', 'g2', 'g3']) {
        for (let user = 0; user < 10; user++) {
          for (const day of ['2025-01-01', '2025-01-02', '2025-01-03']) {
            incrementMessageCount(db, guildId, `1000000000000000${user}`, day);
          }
        }
      }
      expect(await pruneMessageCounts(db, '2025-01-03', 4)).toBe(60);
      const left = connection.sqlite
        .prepare('SELECT guild_id AS guildId, day, count(*) AS n FROM message_counts GROUP BY guild_id, day')
        .all();
      expect(left).toEqual([
        { guildId: 'g1', day: '2025-01-03', n: 10 },
        { guildId: 'g2', day: '2025-01-03', n: 10 },
        { guildId: 'g3', day: '2025-01-03', n: 10 },
      ]);
      expect(await pruneMessageCounts(db, '2025-01-03', 4)).toBe(0);
    } finally {
      connection.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('defines periods as whole UTC days including the run day', () => {
    const at = Date.UTC(2025, 0, 31, 23, 59);
    expect(periodStartDay('day', at)).toBe('2025-01-31');
    expect(periodStartDay('week', at)).toBe('2025-01-25');
    expect(periodStartDay('month', at)).toBe('2025-01-02');
    expect(periodStartDay('all', at)).toBeUndefined();
  });
});
