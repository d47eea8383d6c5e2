// `npm run bench -- metrics [tasks] [seconds] [rounds]`: what the metrics cost the task runtime.
// 1. Per run: the instrumented listeners' work for one recorded run (a counter increment and two histogram
//    observations, plus a journal write every 100 runs), timed over a million synthetic events.
// 2. The runtime at scale, with and without instrumentRuntime: 100,000 running tasks every 1 s (more than it
//    can fire), a no-op executor, runs journalled as the bot does. Each round runs in a fresh child process,
//    alternating without/with, and prints fires/s and CPU per fire; the CPU figure moves least with other
//    processes' load. Target: metrics cost <= 5 % of fires/s.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import { openDatabase } from '../src/db/index.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { instrumentRuntime } from '../src/metrics/runtime.js';
import { RuntimeEvents } from '../src/tasks/events.js';
import { TaskRuntime } from '../src/tasks/index.js';

const [mode, ...args] = process.argv.slice(2);

if (mode === '--child') await child(args[0] === 'metrics', Number(args[1]), Number(args[2]));
else await parent(Number(mode ?? 100_000), Number(args[0] ?? 8), Number(args[1] ?? 3));

async function parent(taskCount: number, seconds: number, rounds: number): Promise<void> {
  perEvent();
  console.log(
    `runtime: ${taskCount.toLocaleString()} running tasks every 1 s, ${seconds} s of fires per round, ${rounds} rounds each`,
  );
  const results: Record<'plain' | 'metrics', { firesPerSecond: number; cpuPerFireUs: number }[]> = {
    plain: [],
    metrics: [],
  };
  const script = fileURLToPath(import.meta.url);
  for (let round = 0; round < rounds; round++) {
    for (const variant of ['plain', 'metrics'] as const) {
      const out = execFileSync(
        process.execPath,
        [...process.execArgv, script, '--child', variant, String(taskCount), String(seconds)],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const result = JSON.parse(out.trim().split('\n').at(-1)!) as (typeof results)['plain'][number];
      results[variant].push(result);
      console.log(
        `  round ${round + 1} ${variant.padEnd(7)}: ${Math.round(result.firesPerSecond).toLocaleString()} fires/s, ` +
          `${result.cpuPerFireUs.toFixed(1)} µs CPU per fire`,
      );
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const range = (values: number[], digits = 0) =>
    `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
  for (const variant of ['plain', 'metrics'] as const) {
    const fires = results[variant].map((r) => r.firesPerSecond);
    const cpu = results[variant].map((r) => r.cpuPerFireUs);
    console.log(
      `${variant.padEnd(7)}: fires/s ${range(fires)} (median ${Math.round(median(fires)).toLocaleString()}), ` +
        `CPU per fire ${range(cpu, 1)} µs (median ${median(cpu).toFixed(1)})`,
    );
  }
  const firesCost =
    1 -
    median(results.metrics.map((r) => r.firesPerSecond)) / median(results.plain.map((r) => r.firesPerSecond));
  const cpuCost =
    median(results.metrics.map((r) => r.cpuPerFireUs)) / median(results.plain.map((r) => r.cpuPerFireUs)) - 1;
  console.log(
    `metrics cost: ${(firesCost * 100).toFixed(1)} % of fires/s, ${(cpuCost * 100).toFixed(1)} % CPU per fire (medians)  [target <= 5 %]`,
  );
}

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

async function child(withMetrics: boolean, taskCount: number, fireSeconds: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-bench-metrics-'));
  const path = join(dir, 'metronome.db');
  try {
    openDatabase(path).close();
    const seeder = new Sqlite(path);
    const now = Date.now();
    // As bench/runtime.ts seeds: every 1 s, slots spread over the second, kinds mixed for the labels.
    seeder
      .prepare(
        `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ? - 1)
         INSERT INTO tasks (guild_id, name, kind, options, schedule, count, catch_up, state, current_loop,
                            last_run_at, next_run_at, timeout_ms, channel_id, created_by, created_at, updated_at)
         SELECT 'guild-' || (i % 10000), 'task-' || i, 'noop-' || (i % 3), '{}', @schedule, NULL, 'skip',
                'running', 5, @lastRun + (i % 1000), @lastRun + 1000 + (i % 1000), 60000, 'channel', 'bench',
                @now, @now
         FROM seq`,
      )
      .run(taskCount, {
        schedule: JSON.stringify({ kind: 'interval', seconds: 1 }),
        lastRun: now - 1000,
        now,
      });
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
    // As the bot does with METRICS_PORT set: the process metrics too, since they run beside the runtime.
    const detach = withMetrics ? instrumentRuntime(runtime, createMetrics()) : () => {};
    runtime.resumeAll();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    runtime.flush();
    const firesAtStart = fires;
    const f0 = performance.now();
    const cpu0 = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, fireSeconds * 1_000));
    runtime.flush();
    const seconds = (performance.now() - f0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const fired = fires - firesAtStart;
    detach();
    await runtime.shutdown();
    conn.close();
    console.log(
      JSON.stringify({ firesPerSecond: fired / seconds, cpuPerFireUs: (cpu.user + cpu.system) / fired }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
