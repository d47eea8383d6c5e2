// The two reads start-up makes, filtered to some shards' servers in SQL: they must put each server exactly where
// Discord's formula (shardOfGuild, BigInt) does, for real 64-bit snowflakes, and keep their other rules.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type DatabaseConnection,
  insertTask,
  inTransaction,
  listRunIntents,
  listRunningTaskTimings,
  openDatabase,
  writeRunIntents,
} from '../../src/db/index.js';
import { shardOfGuild } from '../../src/tasks/index.js';
import { taskValues, useTempDir } from './helpers.js';

// Ids at the edges: below 2^22 (shard 0 always), just past it, today's 19-digit ids (above 2^53, where a
// double rounds), low 22 bits all ones (the worst rounding case), and the largest below 2^63.
const EDGE_IDS = [
  '1',
  '4194303',
  '4194304',
  '175928847299117063',
  '1311234567890123456',
  ((((1n << 40n) + 12_345n) << 22n) | ((1n << 22n) - 1n)).toString(),
  ((1n << 63n) - 1n).toString(),
];

describe('start-up reads scoped to shards', () => {
  const tempDbPath = useTempDir();
  let conn: DatabaseConnection;
  beforeEach(() => {
    conn = openDatabase(tempDbPath());
  });
  afterEach(() => conn.close());

  /** Running tasks in `guildIds` (one each, in order), plus a stopped one in every guild. */
  function seed(guildIds: readonly string[]): { id: number; guildId: string }[] {
    return inTransaction(conn.db, () =>
      guildIds.map((guildId, k) => {
        insertTask(conn.db, taskValues({ guildId, name: `off${k}`, state: 'stopped' }));
        return insertTask(conn.db, taskValues({ guildId, name: `on${k}`, state: 'running' }));
      }),
    );
  }

  it('put every server on the shard Discord does, for every count, and split the running tasks exactly', () => {
    let seedBits = 0x9e3779b9;
    const random = () => {
      seedBits = (Math.imul(seedBits, 1_664_525) + 1_013_904_223) >>> 0;
      return BigInt(seedBits);
    };
    // 150 real-looking snowflakes: a timestamp part up to 2^41 (years 2015-2084), random low bits.
    const ids = [...EDGE_IDS];
    for (let k = 0; k < 150; k++)
      ids.push(((((random() << 9n) ^ random()) << 22n) | (random() & 0x3fffffn)).toString());
    const running = seed(ids);
    for (const count of [1, 2, 3, 4, 7, 16]) {
      const seen = new Set<number>();
      for (let shard = 0; shard < count; shard++) {
        const listed = listRunningTaskTimings(conn.db, undefined, { count, ids: [shard] }).map((t) => t.id);
        const expected = running.filter((t) => shardOfGuild(t.guildId, count) === shard).map((t) => t.id);
        expect(listed, `shard ${shard} of ${count}`).toEqual(expected);
        for (const id of listed) seen.add(id);
      }
      expect(seen.size).toBe(running.length); // no stopped task, no running one left out
    }
    // Several shards at once: the union of theirs.
    const both = listRunningTaskTimings(conn.db, undefined, { count: 4, ids: [3, 1] }).map((t) => t.id);
    expect(both).toEqual(running.filter((t) => shardOfGuild(t.guildId, 4) % 2 === 1).map((t) => t.id));
  });

  it('page through one shard in id order, as start-up does', () => {
    const guildIds = Array.from({ length: 12 }, (_, k) => ((300_000_000_000n + BigInt(k)) << 22n).toString());
    const running = seed(guildIds);
    const shards = { count: 3, ids: [1] };
    const pages: number[][] = [];
    for (let afterId = 0; ; ) {
      const page = listRunningTaskTimings(conn.db, { afterId, limit: 2 }, shards).map((t) => t.id);
      if (page.length === 0) break;
      pages.push(page);
      afterId = page.at(-1)!;
    }
    // Guilds 1, 4, 7, 10 (k % 3 === 1): two pages of two.
    expect(pages).toEqual([
      [running[1]!.id, running[4]!.id],
      [running[7]!.id, running[10]!.id],
    ]);
  });

  it("list only the open attempts of the shards' servers, whatever the task's state", () => {
    const guildIds = Array.from({ length: 6 }, (_, k) => ((300_000_000_000n + BigInt(k)) << 22n).toString());
    seed(guildIds);
    const all = inTransaction(conn.db, () =>
      guildIds.map((guildId, k) =>
        insertTask(
          conn.db,
          taskValues({ guildId, name: `x${k}`, state: k % 3 === 0 ? 'stopped' : 'running' }),
        ),
      ),
    );
    writeRunIntents(
      conn.db,
      all.map((task) => ({ taskId: task.id, scheduledAt: 60, startedAt: 61, iteration: 2 })),
    );
    const mine = listRunIntents(conn.db, { count: 2, ids: [0] });
    expect(mine).toEqual(
      [all[0]!, all[2]!, all[4]!].map((task) => ({
        taskId: task.id,
        scheduledAt: 60,
        startedAt: 61,
        iteration: 2,
      })),
    );
    expect(listRunIntents(conn.db, { count: 2, ids: [1] }).map((i) => i.taskId)).toEqual(
      [all[1]!, all[3]!, all[5]!].map((task) => task.id),
    );
    expect(listRunIntents(conn.db)).toHaveLength(6);
  });
});
