// `npm run bench -- shard-restore [tasks] [guilds]`: start-up of shard processes sharing one database.
// 1. Seeds running interval tasks (defaults: 100,000 across 10,000 guilds with real-looking snowflake ids, most
//    above 2^53), in SQL.
// 2. Exactness: SQLite's `(CAST(guild_id AS INTEGER) >> 22) % count` (the filter start-up uses) against
//    shardOfGuild (BigInt, Discord's formula) for every guild and several counts.
// 3. The filter's own cost: start-up's page reads of every running task, without it and through it.
// 4. Restore: for 1, 2 and 4 shards, each shard's process (its own connection and TaskRuntime with `shards`)
//    opens the file and resumes its tasks, one after the other as the ShardingManager spawns them; prints each
//    one's restore time and checks that together they resumed every task once.
// Target: each process's restore <= 1 s (the runtime bench's target for the whole bot).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { listRunningTaskTimings, openDatabase } from '../src/db/index.js';
import { shardOfGuild, TaskRuntime } from '../src/tasks/index.js';
import { seedRunningTasks } from './support/seed-tasks.js';

const positional = process.argv.slice(2);
const taskCount = Number(positional[0] ?? 100_000);
const guildCount = Number(positional[1] ?? 10_000);
for (const [name, value] of Object.entries({ taskCount, guildCount })) {
  if (!Number.isSafeInteger(value) || value < 1) {
    console.error(`${name} must be a whole number of at least 1, got ${value}`);
    process.exit(1);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'metronome-bench-'));
const path = join(dir, 'metronome.db');
const ms = (t: number) => `${t.toFixed(0)} ms`;
/** Wall time and CPU time of `fn`: CPU time is what a loaded machine skews least, to compare two ways. */
function timed<T>(fn: () => T): { value: T; text: string } {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const value = fn();
  const cpu = process.cpuUsage(cpu0);
  return { value, text: `${ms(performance.now() - t0)} (CPU ${ms((cpu.user + cpu.system) / 1000)})` };
}

try {
  openDatabase(path).close();
  const seeder = new Sqlite(path);
  // Guild ids as Discord makes them: a millisecond timestamp since 2015 in the top 42 bits (2016 to 2026
  // here), worker and sequence bits below. A fixed generator, so every run seeds the same ids.
  let state = 0x2545f491;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const ids: string[] = [];
  for (let g = 0; g < guildCount; g++) {
    const sinceEpochMs = BigInt(Math.floor(31_536_000_000 * (1 + 10 * random())));
    ids.push(((sinceEpochMs << 22n) | BigInt(Math.floor(random() * 2 ** 22))).toString());
  }
  seeder.exec('CREATE TEMP TABLE guild_ids (i INTEGER PRIMARY KEY, id TEXT NOT NULL)');
  const insertId = seeder.prepare('INSERT INTO guild_ids (i, id) VALUES (?, ?)');
  seeder.transaction(() => {
    for (const [i, id] of ids.entries()) insertId.run(i, id);
  })();
  const now = Date.now();
  seedRunningTasks(
    seeder,
    taskCount,
    {
      guildId: '(SELECT id FROM guild_ids WHERE i = seq.i % @guilds)',
      schedule: '@schedule',
      lastRunAt: '@lastRun',
      nextRunAt: '@nextRun',
    },
    {
      guilds: guildCount,
      // Hourly: nothing fires while the processes restore, so the figures are start-up alone.
      schedule: JSON.stringify({ kind: 'interval', seconds: 3600 }),
      lastRun: now - 60_000,
      nextRun: now + 3_540_000,
      now,
    },
  );
  const above53 = ids.filter((id) => BigInt(id) > 2n ** 53n).length;
  console.log(
    `seeded ${taskCount.toLocaleString()} running tasks across ${guildCount.toLocaleString()} guilds ` +
      `(${above53.toLocaleString()} of the ids above 2^53)`,
  );

  const shardInSql = seeder.prepare('SELECT (CAST(? AS INTEGER) >> 22) % ?').pluck();
  for (const count of [2, 3, 4, 16, 1000]) {
    let mismatches = 0;
    for (const id of ids) if (shardInSql.get(id, count) !== shardOfGuild(id, count)) mismatches++;
    console.log(
      `exactness, ${count} shards: SQLite and shardOfGuild disagree on ${mismatches} of ${ids.length} guilds`,
    );
  }
  seeder.close();

  // What the filter itself costs: every row read in start-up's pages, without it and through it (every shard
  // named, so both read the same rows).
  const reader = openDatabase(path);
  const readAll = (shards?: { count: number; ids: number[] }) => {
    const { value: rows, text } = timed(() => {
      let rows = 0;
      for (let afterId = 0; ; ) {
        const page = listRunningTaskTimings(reader.db, { afterId, limit: 1_000 }, shards);
        rows += page.length;
        if (page.length < 1_000) break;
        afterId = page[page.length - 1]!.id;
      }
      return rows;
    });
    return `${text}, ${rows.toLocaleString()} rows`;
  };
  for (let round = 0; round < 3; round++) {
    console.log(
      `reading every running task's timing in pages: no filter ${readAll()}, ` +
        `through the shard filter ${readAll({ count: 2, ids: [0, 1] })}`,
    );
  }
  reader.close();

  for (const count of [1, 2, 4]) {
    let total = 0;
    const times: string[] = [];
    for (let shard = 0; shard < count; shard++) {
      const {
        value: [conn, runtime, resumed],
        text,
      } = timed(() => {
        const conn = openDatabase(path);
        const runtime = new TaskRuntime({
          db: conn.db,
          execute: () => Promise.resolve(),
          ...(count > 1 && { shards: { count, ids: [shard] } }),
        });
        return [conn, runtime, runtime.resumeAll().resumed] as const;
      });
      times.push(`${text} for ${resumed.toLocaleString()}`);
      total += resumed;
      await runtime.shutdown(0);
      conn.close();
    }
    console.log(
      `restore, ${count} shard${count > 1 ? 's' : ''}: openDatabase + resumeAll per process ${times.join(', ')}; ` +
        `${total.toLocaleString()} of ${taskCount.toLocaleString()} resumed  [target <= 1000 ms each, all once]`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
