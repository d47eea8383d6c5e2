// `npm run bench -- metrics [tasks] [windows]`: what the metrics cost the task runtime.
// 1. Per run: the instrumented listeners' work for one recorded run (a counter increment and two histogram
//    observations, plus a journal write every 100 runs), timed over a million synthetic events.
// 2. The runtime at scale: 100,000 running tasks every 1 s (more than it can fire), a no-op executor, runs
//    journalled as the bot does. One process alternates 1-second windows with instrumentRuntime attached and
//    detached (ABBA order, so drift cancels), and compares fires/s and CPU per fire: on a shared machine,
//    separate processes differ by more than the effect being measured.
// 3. A scrape: the time to build /metrics for those 100,000 tasks (the tasks-by-state query included), during
//    which the event loop is busy.
// Target: metrics cost <= 5 % of fires/s.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Sqlite from 'better-sqlite3';
import { openDatabase } from '../src/db/index.js';
import { countTasksByState } from '../src/db/stats.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { instrumentRuntime } from '../src/metrics/runtime.js';
import { RuntimeEvents } from '../src/tasks/events.js';
import { TaskRuntime } from '../src/tasks/index.js';
import { seedRunningTasks } from './support/seed-tasks.js';

const taskCount = Number(process.argv[2] ?? 100_000);
const windowPairs = Number(process.argv[3] ?? 8);

perEvent();
await atScale();

/** The listeners' own cost per recorded run, without the runtime around them. */
function perEvent(): void {
  const kinds = ['reminder', 'counter', 'leaderboard'];
  const n = 1_000_000;
  const time = (instrumented: boolean) => {
    const events = new RuntimeEvents();
    const metrics = createMetrics({ defaultMetrics: false });
    const detach = instrumented ? instrumentRuntime({ events, queuedRecords: 0 }, metrics) : () => {};
    const base = Date.now();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const scheduledAt = base + i;
      events.emit('runRecorded', {
        taskId: i % 100_000,
        kind: kinds[i % 3]!,
        outcome: i % 50 === 0 ? 'error' : 'ok',
        gaveUp: false,
        scheduledAt,
        startedAt: scheduledAt + 2,
        finishedAt: scheduledAt + 7,
      });
      if (i % 100 === 0) {
        events.emit('journalWrite', { what: 'records', rows: 100, durationMs: 1.5, ok: true, queued: 0 });
      }
    }
    const elapsed = performance.now() - t0;
    detach();
    return (elapsed * 1e6) / n;
  };
  time(true); // warm-up
  const plain = Math.min(time(false), time(false), time(false));
  const instrumented = Math.min(time(true), time(true), time(true));
  console.log(
    `per run: emitting the event ${plain.toFixed(0)} ns without listeners, ${instrumented.toFixed(0)} ns with the ` +
      `metrics listeners: ${(instrumented - plain).toFixed(0)} ns of metrics work per run (best of 3 × ${n.toLocaleString()})`,
  );
}

async function atScale(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-bench-metrics-'));
  const path = join(dir, 'metronome.db');
  try {
    openDatabase(path).close();
    const seeder = new Sqlite(path);
    const now = Date.now();
    // As bench/runtime.ts seeds: every 1 s, slots spread over the second; three kinds for the labels.
    seedRunningTasks(
      seeder,
      taskCount,
      {
        guildId: "'guild-' || (i % 10000)",
        kind: "'noop-' || (i % 3)",
        schedule: '@schedule',
        lastRunAt: '@lastRun + (i % 1000)',
        nextRunAt: '@lastRun + 1000 + (i % 1000)',
      },
      { schedule: JSON.stringify({ kind: 'interval', seconds: 1 }), lastRun: now - 1000, now },
    );
    seeder.close();
    const conn = openDatabase(path);
    let fires = 0;
    const runtime = new TaskRuntime({
      db: conn.db,
      execute: () => {
        fires++;
        return Promise.resolve();
      },
    });
    runtime.resumeAll();
    await sleep(1_000);
    const metrics = createMetrics();
    metrics.sources.tasksByState = () => countTasksByState(conn.db);
    const windows: Record<'plain' | 'metrics', { firesPerSecond: number; cpuPerFireUs: number }[]> = {
      plain: [],
      metrics: [],
    };
    const order = Array.from({ length: windowPairs }, (_, i) =>
      i % 2 === 0 ? (['plain', 'metrics'] as const) : (['metrics', 'plain'] as const),
    ).flat();
    console.log(
      `runtime: ${taskCount.toLocaleString()} running tasks every 1 s; ${order.length} windows of 1 s, ABBA`,
    );
    for (const variant of order) {
      const detach = variant === 'metrics' ? instrumentRuntime(runtime, metrics) : () => {};
      runtime.flush();
      const fires0 = fires;
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      await sleep(1_000);
      runtime.flush();
      const cpu = process.cpuUsage(cpu0);
      const fired = fires - fires0;
      windows[variant].push({
        firesPerSecond: fired / ((performance.now() - t0) / 1000),
        cpuPerFireUs: (cpu.user + cpu.system) / fired,
      });
      detach();
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const summary = (variant: 'plain' | 'metrics') => {
      const fires = windows[variant].map((w) => w.firesPerSecond);
      const cpu = windows[variant].map((w) => w.cpuPerFireUs);
      console.log(
        `  ${variant.padEnd(7)}: fires/s ${Math.round(Math.min(...fires)).toLocaleString()}–${Math.round(Math.max(...fires)).toLocaleString()} ` +
          `(median ${Math.round(median(fires)).toLocaleString()}); CPU per fire ${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)} µs (median ${median(cpu).toFixed(1)})`,
      );
      return { fires: median(fires), cpu: median(cpu) };
    };
    const plain = summary('plain');
    const instrumented = summary('metrics');
    console.log(
      `metrics cost: ${((1 - instrumented.fires / plain.fires) * 100).toFixed(1)} % of fires/s, ` +
        `${((instrumented.cpu / plain.cpu - 1) * 100).toFixed(1)} % CPU per fire (medians)  [target <= 5 %]`,
    );

    const scrapes: number[] = [];
    let size = 0;
    for (let i = 0; i < 5; i++) {
      const s0 = performance.now();
      size = (await metrics.registry.metrics()).length;
      scrapes.push(performance.now() - s0);
    }
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const c0 = performance.now();
      countTasksByState(conn.db);
      counts.push(performance.now() - c0);
    }
    console.log(
      `scrape: tasks-by-state query alone ${Math.min(...counts).toFixed(1)}–${Math.max(...counts).toFixed(1)} ms; ` +
        `scrape: ${Math.min(...scrapes).toFixed(1)}–${Math.max(...scrapes).toFixed(1)} ms for ${size.toLocaleString()} bytes ` +
        `(tasks-by-state over ${taskCount.toLocaleString()} tasks included), while the runtime fires`,
    );
    await runtime.shutdown();
    conn.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
