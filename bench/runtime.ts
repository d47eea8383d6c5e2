// `npm run bench -- runtime [tasks] [guilds] [seconds] [intervalSeconds] [--cron] [--metrics]`: the TaskRuntime
// at scale, with a no-op executor.
// 1. Seeds a database with running interval tasks (defaults: 100,000 across 10,000 guilds, every 1 s), in
//    SQL so the seeding leaves no JavaScript garbage behind. `--cron`: 6-field cron tasks instead
//    (`*/N * * * * *`, N the interval), spread over five time zones. `--metrics`: the bot's Prometheus
//    instrumentation (src/metrics) listens to the runtime, as with METRICS_PORT set.
// 2. Cold start: times openDatabase() + resumeAll(), and reads RSS.
// 3. Fires: lets the tasks run for a while in real time, counting executor calls and run rows written. Each
//    fire is journalled as the bot does it: its start committed (batched per tick) before the executor runs,
//    its record (run row, progress, start cleared) written after.
// Targets: restore <= 1 s, RSS <= 150 MB, >= 20,000 fires/s with run history written. Stretch: 1,000,000 tasks
// (`npm run bench -- runtime 1000000 100000`), <= 400 MB RSS, restore <= 5 s.
// Between runs a task waits parked (src/tasks/parking.ts): "bytes per waiting task" is what restore leaves.
// RSS is printed as the bare process (node + the tsx loader + modules, before any task) plus the growth for
// the tasks, both as first measured and after a full GC (steady state, without the restore's garbage).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Sqlite from 'better-sqlite3';
import { openDatabase } from '../src/db/index.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { instrumentRuntime } from '../src/metrics/runtime.js';
import { TaskRuntime } from '../src/tasks/index.js';
import { seedRunningTasks } from './support/seed-tasks.js';

const flags = new Set(process.argv.slice(2).filter((arg) => arg.startsWith('--')));
for (const flag of flags) {
  if (flag !== '--cron' && flag !== '--metrics') {
    console.error(`unknown flag ${flag}: the flags are --cron and --metrics`);
    process.exit(1);
  }
}
const positional = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const taskCount = Number(positional[0] ?? 100_000);
const guildCount = Number(positional[1] ?? 10_000);
const fireSeconds = Number(positional[2] ?? 10);
const intervalSeconds = Number(positional[3] ?? 1);
const intervalMs = intervalSeconds * 1000;
const cron = flags.has('--cron');
const withMetrics = flags.has('--metrics');
for (const [name, value] of Object.entries({ taskCount, guildCount, fireSeconds, intervalSeconds })) {
  if (!Number.isSafeInteger(value) || value < 1) {
    console.error(`${name} must be a whole number of at least 1, got ${value}`);
    process.exit(1);
  }
}
if (cron && 60 % intervalSeconds !== 0) {
  console.error(
    `with --cron the interval must divide 60 seconds (*/N in the seconds field), got ${intervalSeconds}`,
  );
  process.exit(1);
}
// Zones with whole-hour offsets, so every zone's seconds field ticks on the same instants.
const CRON_ZONES = ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Tokyo', 'Australia/Brisbane'];

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
  if (cron) {
    // Cron slots fall on the grid of the seconds field, so the tasks of one expression all fire together.
    const nextSlot = Math.ceil(now / intervalMs) * intervalMs;
    seedRunningTasks(
      seeder,
      taskCount,
      {
        guildId: "'guild-' || (i % @guilds)",
        schedule:
          "json_object('kind', 'cron', 'cron', @cron, 'timeZone', json_extract(@zones, '$[' || (i % CAST(@zoneCount AS INTEGER)) || ']'))",
        lastRunAt: '@lastRun',
        nextRunAt: '@nextRun',
      },
      {
        guilds: guildCount,
        cron: `*/${intervalSeconds} * * * * *`,
        zones: JSON.stringify(CRON_ZONES),
        zoneCount: CRON_ZONES.length,
        lastRun: nextSlot - intervalMs,
        nextRun: nextSlot,
        now,
      },
    );
  } else {
    seedRunningTasks(
      seeder,
      taskCount,
      {
        guildId: "'guild-' || (i % @guilds)",
        schedule: '@schedule',
        lastRunAt: '@lastRun + (i % @interval)',
        nextRunAt: '@lastRun + @interval + (i % @interval)',
      },
      {
        guilds: guildCount,
        schedule: JSON.stringify({ kind: 'interval', seconds: intervalSeconds }),
        lastRun: now - intervalMs,
        interval: intervalMs,
        now,
      },
    );
  }
  seeder.close();
  const what = cron
    ? `cron tasks (*/${intervalSeconds} * * * * *, in ${CRON_ZONES.length} zones)`
    : `tasks (every ${intervalSeconds} s)`;
  console.log(
    `seeded ${taskCount.toLocaleString()} running ${what} across ${guildCount.toLocaleString()} guilds in ${ms(performance.now() - seedStart)}`,
  );

  gc();
  const heapBefore = process.memoryUsage().heapUsed;
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
  const metrics = withMetrics ? createMetrics() : undefined;
  if (metrics) instrumentRuntime(runtime, metrics);
  const restoreCpu0 = process.cpuUsage();
  const summary = runtime.resumeAll();
  const t2 = performance.now();
  const restoreCpu = process.cpuUsage(restoreCpu0);
  const { rss: rssRestored, heapUsed: heapRestored } = process.memoryUsage();
  console.log(
    `restore: openDatabase ${ms(t1 - t0)} + resumeAll ${ms(t2 - t1)} = ${ms(t2 - t0)} ` +
      `(resumed ${summary.resumed.toLocaleString()}, failed ${summary.failed})  [target <= 1000 ms]`,
  );
  // Like CPU per fire below: what a loaded machine skews least, to compare two builds.
  console.log(`restore CPU: resumeAll ${ms((restoreCpu.user + restoreCpu.system) / 1000)} of CPU`);
  const parkedAfterRestore = runtime.parkedCount;
  const liveAfterRestore = runtime.liveLoopCount;
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
  console.log(
    `bytes per waiting task: ${perTask(rssSteady - rssBefore)} of RSS, ${perTask(heapSteady - heapBefore)} of JS heap after a full GC ` +
      `(${parkedAfterRestore.toLocaleString()} parked, ${liveAfterRestore.toLocaleString()} with a live Loop)`,
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

  if (metrics) {
    const scrape = await metrics.registry.metrics();
    const runs = scrape
      .split('\n')
      .filter((line) => line.startsWith('metronome_task_runs_total{'))
      .join('; ');
    console.log(`metrics attached: ${runs || 'no run counted'}`);
  }

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
