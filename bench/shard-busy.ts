// `npm run bench -- shard-busy [processes] [tasks] [seconds]`: shard processes firing on one SQLite file.
// Seeds running tasks every 1 s (defaults: 20,000 across 10,000 snowflake guilds), then starts `processes`
// (default 2) child processes, each a TaskRuntime of one shard of that many (as the ShardingManager's children
// are), resuming its servers' tasks and firing them for `seconds` (default 10), journalled as the bot does.
// Each prints what the others' write locks cost it: the longest its event loop was held up (a 10 ms sampler),
// its journal writes that met a lock (how many, the longest wait: SQLite's busy_timeout, ~100 ms) and its own
// longest write (how long it held the lock over the others), its fires/s. Then the same tasks in one process.
// Target: no process's event loop held up more than ~100 ms by another's lock.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import { retryWhileBusy, STARTUP_BUSY_BUDGET_MS } from '../src/db/busy.js';
import { openDatabase } from '../src/db/index.js';
import type { JournalWriteEvent } from '../src/tasks/events.js';
import { TaskRuntime } from '../src/tasks/index.js';
import { seedRunningTasks } from './support/seed-tasks.js';

interface ChildReport {
  shard: number;
  resumed: number;
  resumeMs: number;
  fires: number;
  seconds: number;
  maxLagMs: number;
  refused: number;
  longestRefusedMs: number;
  longestWriteMs: number;
  recordsQueuedAtEnd: number;
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args[1]!, Number(args[2]), Number(args[3]), Number(args[4]));
else await parent();

async function parent(): Promise<void> {
  const processes = Number(args[0] ?? 2);
  const taskCount = Number(args[1] ?? 20_000);
  const seconds = Number(args[2] ?? 10);
  for (const [name, value] of Object.entries({ processes, taskCount, seconds })) {
    if (!Number.isSafeInteger(value) || value < 1) {
      console.error(`${name} must be a whole number of at least 1, got ${value}`);
      process.exit(1);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'metronome-bench-'));
  try {
    for (const count of [processes, 1]) {
      const path = join(dir, `shards-${count}.db`);
      seed(path, taskCount);
      const reports = await Promise.all(
        Array.from({ length: count }, (_, shard) => runChild(path, shard, count, seconds)),
      );
      console.log(`${count} process${count > 1 ? 'es' : ''}, ${taskCount.toLocaleString()} tasks every 1 s:`);
      for (const r of reports) {
        console.log(
          `  shard ${r.shard}: resumed ${r.resumed.toLocaleString()} in ${r.resumeMs.toFixed(0)} ms; ` +
            `${Math.round(r.fires / r.seconds).toLocaleString()} fires/s; event loop held up at most ${r.maxLagMs.toFixed(0)} ms; ` +
            `${r.refused} writes met another's lock (longest wait ${r.longestRefusedMs.toFixed(0)} ms); ` +
            `own longest write ${r.longestWriteMs.toFixed(0)} ms; records unwritten at the end ${r.recordsQueuedAtEnd}`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function seed(path: string, taskCount: number): void {
  openDatabase(path).close();
  const seeder = new Sqlite(path);
  const now = Date.now();
  // Guild ids as Discord makes them (a timestamp above 2^53 once shifted), spread over 10,000 guilds.
  seedRunningTasks(
    seeder,
    taskCount,
    {
      guildId: 'CAST(((300000000000 + (i % 10000) * 7919) << 22) | 677 AS TEXT)',
      schedule: '@schedule',
      lastRunAt: '@lastRun + (i % 1000)',
      nextRunAt: '@lastRun + 1000 + (i % 1000)',
    },
    { schedule: JSON.stringify({ kind: 'interval', seconds: 1 }), lastRun: now - 1000, now },
  );
  seeder.close();
}

function runChild(path: string, shard: number, count: number, seconds: number): Promise<ChildReport> {
  const self = fileURLToPath(import.meta.url);
  // The same loader (tsx) as this process, so the child runs this file's TypeScript as we do.
  const proc = spawn(
    process.execPath,
    [...process.execArgv, self, '--child', path, String(shard), String(count), String(seconds)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    proc.on('exit', (code) => {
      if (code !== 0) reject(new Error(`shard ${shard} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as ChildReport);
    });
  });
}

async function child(path: string, shard: number, count: number, seconds: number): Promise<void> {
  const conn = openDatabase(path);
  let fires = 0;
  const runtime = new TaskRuntime({
    db: conn.db,
    execute: () => {
      fires++;
      return Promise.resolve();
    },
    ...(count > 1 && { shards: { count, ids: [shard] } }),
  });
  let refused = 0;
  let longestRefusedMs = 0;
  let longestWriteMs = 0;
  runtime.events.on('journalWrite', (event: JournalWriteEvent) => {
    if (event.ok) longestWriteMs = Math.max(longestWriteMs, event.durationMs);
    else {
      refused++;
      longestRefusedMs = Math.max(longestRefusedMs, event.durationMs);
    }
  });
  const r0 = performance.now();
  const summary = await retryWhileBusy(() => runtime.resumeAll(), { budgetMs: STARTUP_BUSY_BUDGET_MS });
  const resumeMs = performance.now() - r0;
  // Measured after a 1 s warm-up, so the restore instant's catch-up is not counted.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const firesAtStart = fires;
  let maxLagMs = 0;
  let last = performance.now();
  const sampler = setInterval(() => {
    const now = performance.now();
    maxLagMs = Math.max(maxLagMs, now - last - 10);
    last = now;
  }, 10);
  const f0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1_000));
  clearInterval(sampler);
  const report: ChildReport = {
    shard,
    resumed: summary.resumed,
    resumeMs,
    fires: fires - firesAtStart,
    seconds: (performance.now() - f0) / 1000,
    maxLagMs,
    refused,
    longestRefusedMs,
    longestWriteMs,
    recordsQueuedAtEnd: runtime.queuedRecords,
  };
  await runtime.shutdown();
  conn.close();
  console.log(JSON.stringify(report));
}
