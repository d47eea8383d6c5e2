import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lastRuns, listRunIntents, openDatabase } from '../../src/db/index.js';
import { TaskRuntime } from '../../src/tasks/index.js';
import { useTempDir } from '../db/helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/busy-bot.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs the busy bot until it has reported `created` tasks, then SIGKILLs it; returns the names it reported.
 * It waits for those lines, not for a time, so a loaded machine only makes it slower.
 */
function runAndKill(dbPath: string, created: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dbPath], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const names: string[] = [];
    let resumed = false;
    let buffer = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        if (line === 'resumed') resumed = true;
        else names.push(line);
      }
      if (names.length >= created && !child.killed) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && resumed) resolve(names);
      else reject(new Error(`busy bot exited on its own (code ${code}): ${stderr}`));
    });
  });
}

describe('crash safety', () => {
  const tempDbPath = useTempDir();

  it('a bot killed with SIGKILL mid-run loses no definition, keeps runs and progress in step, and resumes', async () => {
    const path = tempDbPath();
    const first = await runAndKill(path, 40);
    const second = await runAndKill(path, 20); // killed again, after resuming the first process's tasks

    const conn = openDatabase(path);
    try {
      expect(conn.sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(conn.sqlite.pragma('foreign_key_check')).toEqual([]);
      const stored = new Set(conn.sqlite.prepare('SELECT name FROM tasks').pluck().all() as string[]);
      for (const name of [...first, ...second]) expect(stored.has(name), name).toBe(true);

      // A run row and the progress it implies are one transaction: they never disagree after a crash.
      const rows = conn.sqlite
        .prepare(
          `SELECT t.name, t.current_loop AS currentLoop,
             (SELECT count(*) FROM task_runs r WHERE r.task_id = t.id AND r.outcome = 'ok') AS okRuns
           FROM tasks t`,
        )
        .all() as { name: string; currentLoop: number; okRuns: number }[];
      const resumedTask = rows.find((r) => r.name === first[0]);
      expect(resumedTask?.currentLoop).toBeGreaterThan(0);
      for (const row of rows) {
        expect(Math.min(row.currentLoop, 100), row.name).toBe(row.okRuns);
      }
      // The write-ahead intent of a run in flight is never behind its task's progress.
      const progress = new Map(
        conn.sqlite
          .prepare('SELECT id, current_loop FROM tasks')
          .raw()
          .all()
          .map((row) => row as [number, number]),
      );
      const open = listRunIntents(conn.db);
      for (const intent of open)
        expect(intent.iteration).toBeGreaterThanOrEqual(progress.get(intent.taskId)!);

      // A new process replays each slot that was in flight, as the same iteration, then records it.
      const waiting = new Map(open.map((intent) => [intent.taskId, intent]));
      let allReplayed!: () => void;
      const replayed = new Promise<void>((resolve) => {
        allReplayed = resolve;
      });
      const replays: [number, number][] = [];
      const runtime = new TaskRuntime({
        db: conn.db,
        execute: async (task, ctx) => {
          const intent = waiting.get(task.id);
          if (intent?.scheduledAt !== ctx.scheduledAt.getTime()) return;
          replays.push([ctx.iteration, intent.iteration]);
          waiting.delete(task.id);
          if (waiting.size === 0) allReplayed();
        },
      });
      const summary = runtime.resumeAll();
      expect(summary.resumed).toBe(stored.size);
      expect(summary).toMatchObject({ failed: 0, replayed: open.length, interrupted: 0 });
      if (open.length === 0) allReplayed();
      await replayed;
      await runtime.shutdown(10_000);
      expect(replays.every(([ran, started]) => ran === started)).toBe(true);
      for (const intent of open) {
        expect(
          lastRuns(conn.db, intent.taskId, 100).some(
            (r) => r.scheduledAt === intent.scheduledAt && r.outcome === 'ok',
          ),
        ).toBe(true);
      }
    } finally {
      conn.close();
    }
  }, 120_000);
});
