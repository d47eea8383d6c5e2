// `npm run bench -- runtime [tasks] [guilds] [seconds] [intervalSeconds]`: the TaskRuntime at scale, with a
// no-op executor.
// 1. Seeds a database with running interval tasks (defaults: 100,000 across 10,000 guilds, every 1 s), in
//    SQL so the seeding leaves no JavaScript garbage behind.
// 2. Cold start: times openDatabase() + resumeAll(), and reads RSS.
// 3. Fires: lets the tasks run for a while in real time, counting executor calls and run rows written. Each
//    fire is journalled as the bot does it: its start committed (batched per tick) before the executor runs,
//    its record (run row, progress, start cleared) written after.
// Targets: restore <= 1 s, RSS <= 150 MB, >= 20,000 fires/s with run history written.
// RSS is printed as the bare process (node + the tsx loader + modules, before any task) plus the growth for
// the tasks, both as first measured and after a full GC (steady state, without the restore's garbage).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Sqlite from 'better-sqlite3';
import { openDatabase } from '../src/db/index.js';
import { TaskRuntime } from '../src/tasks/index.js';

const taskCount = Number(process.argv[2] ?? 100_000);
const guildCount = Number(process.argv[3] ?? 10_000);
const fireSeconds = Number(process.argv[4] ?? 10);
const intervalSeconds = Number(process.argv[5] ?? 1);
const intervalMs = intervalSeconds * 1000;

const dir = mkdtempSync(join(tmpdir(), 'metronome-bench-'));
const path = join(dir, 'metronome.db');
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
// A gc() without re-spawning node with --expose-gc, for the steady-state figures only.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const rssBare = process.memoryUsage().rss;
const ms = (t: number) => `${t.toFixed(0)} ms`;

try {
  // Seed: migrate an empty file, then insert every task in one statement. Slots are spread over the interval
  // so fires arrive evenly, as with tasks created at different times.
  openDatabase(path).close();
  const seedStart = performance.now();
  const seeder = new Sqlite(path);
  const now = Date.now();
  seeder
    .prepare(
      `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ? - 1)
       INSERT INTO tasks (guild_id, name, kind, options, schedule, count, catch_up, state, current_loop,
                          last_run_at, next_run_at, timeout_ms, channel_id, created_by, created_at, updated_at)
       SELECT 'guild-' || (i % @guilds), 'task-' || i, 'noop', '{}', @schedule, NULL, 'skip', 'running', 5,
              @lastRun + (i % @interval), @lastRun + @interval + (i % @interval), 60000, 'channel', 'bench', @now, @now
       FROM seq`,
    )
    .run(taskCount, {
      guilds: guildCount,
      schedule: JSON.stringify({ kind: 'interval', seconds: intervalSeconds }),
      lastRun: now - intervalMs,
      interval: intervalMs,
      now,
    });
  seeder.close();
  console.log(
    `seeded ${taskCount.toLocaleString()} running tasks (every ${intervalSeconds} s) across ${guildCount.toLocaleString()} guilds in ${ms(performance.now() - seedStart)}`,
  );

  const rssBefore = process.memoryUsage().rss;
  let fires = 0;
  const t0 = performance.now();
  const conn = openDatabase(path);
  const t1 = performance.now();
  const runtime = new TaskRuntime({
    db: conn.db,
    execute: () => {
      fires++;
      return Promise.resolve();
    },
  });
  const summary = runtime.resumeAll();
  const t2 = performance.now();
  const { rss: rssRestored, heapUsed: heapRestored } = process.memoryUsage();
  console.log(
    `restore: openDatabase ${ms(t1 - t0)} + resumeAll ${ms(t2 - t1)} = ${ms(t2 - t0)} ` +
      `(resumed ${summary.resumed.toLocaleString()}, failed ${summary.failed})  [target <= 1000 ms]`,
  );
  gc();
  const { rss: rssSteady, heapUsed: heapSteady } = process.memoryUsage();
  const perTask = (bytes: number) => `${Math.round(bytes / taskCount).toLocaleString()} B/task`;
  console.log(
    `RSS after restore: ${mb(rssRestored)} (before open: ${mb(rssBefore)}; JS heap in use ${mb(heapRestored)})  [target <= 150 MB]`,
  );
  console.log(
    `  bare process ${mb(rssBare)} + seeding ${mb(rssBefore - rssBare)} + tasks ${mb(rssRestored - rssBefore)} ` +
      `(${perTask(rssRestored - rssBefore)}); after a full GC: RSS ${mb(rssSteady)}, tasks ${mb(rssSteady - rssBefore)} ` +
      `(${perTask(rssSteady - rssBefore)}), JS heap ${mb(heapSteady)}`,
  );

  // Fires: measured after a 1 s warm-up so the catch-up of the restore instant is not counted.
  const runsBefore = () => conn.sqlite.prepare('SELECT count(*) FROM task_runs').pluck().get() as number;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  runtime.flush();
  const firesAtStart = fires;
  const rowsAtStart = runsBefore();
  // Event-loop lag: how late a 100 ms sampler runs; a bot needs this small to keep its gateway alive.
  let peakRss = process.memoryUsage().rss;
  let peakHeap = process.memoryUsage().heapUsed;
  let maxLagMs = 0;
  let lastSample = performance.now();
  const sampler = setInterval(() => {
    const sampledAt = performance.now();
    maxLagMs = Math.max(maxLagMs, sampledAt - lastSample - 100);
    lastSample = sampledAt;
    const { rss, heapUsed } = process.memoryUsage();
    peakRss = Math.max(peakRss, rss);
    peakHeap = Math.max(peakHeap, heapUsed);
  }, 100);
  const f0 = performance.now();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  await new Promise((resolve) => setTimeout(resolve, fireSeconds * 1_000));
  runtime.flush();
  const f1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  clearInterval(sampler);
  const seconds = (f1 - f0) / 1000;
  const fired = fires - firesAtStart;
  const rows = runsBefore() - rowsAtStart;
  console.log(
    `fires: ${fired.toLocaleString()} in ${seconds.toFixed(1)} s = ${Math.round(fired / seconds).toLocaleString()} fires/s; ` +
      `run rows written: ${rows.toLocaleString()} = ${Math.round(rows / seconds).toLocaleString()}/s  [target >= 20,000/s]`,
  );
  // CPU time per fire barely moves with other processes' load, unlike the rate: it compares two builds on a
  // busy machine, and 1 s / (CPU per fire) is the rate one free core would reach.
  const cpuPerFireUs = (cpu.user + cpu.system) / fired;
  console.log(
    `CPU: ${cpuPerFireUs.toFixed(1)} µs per fire (${((cpu.user + cpu.system) / 1e6).toFixed(1)} s of CPU in ${seconds.toFixed(1)} s) ` +
      `= ${Math.round(1e6 / cpuPerFireUs).toLocaleString()} fires/s on one free core; event loop busy ${(elu.utilization * 100).toFixed(0)} %`,
  );
  console.log(
    `due: ${Math.round(taskCount / intervalSeconds).toLocaleString()} fires/s; peak RSS while firing: ${mb(peakRss)} (JS heap ${mb(peakHeap)}); max event-loop lag: ${ms(maxLagMs)}`,
  );

  const s0 = performance.now();
  await runtime.shutdown();
  const count = (sql: string) => conn.sqlite.prepare(sql).pluck().get() as number;
  console.log(
    `shutdown: ${ms(performance.now() - s0)}; tasks still running in the database: ${count("SELECT count(*) FROM tasks WHERE state = 'running'")}; ` +
      `runs left open in the journal: ${count('SELECT count(*) FROM run_intents')}  [target 0]`,
  );
  conn.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
