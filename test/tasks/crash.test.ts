import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/index.js';
import { TaskRuntime } from '../../src/tasks/index.js';
import { useTempDir } from '../db/helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/busy-bot.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the busy bot until it has reported `created` tasks, then SIGKILLs it; returns the names it reported. */
function runAndKill(dbPath: string, created: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dbPath], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const names: string[] = [];
    let buffer = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      names.push(...lines);
      if (names.length >= created && !child.killed) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(names);
      else reject(new Error(`busy bot exited on its own (code ${code}): ${stderr}`));
    });
  });
}

describe('crash safety', () => {
  const tempDbPath = useTempDir();

  it('a bot killed with SIGKILL mid-run loses no definition, keeps runs and progress in step, and resumes', async () => {
    const path = tempDbPath();
    const first = await runAndKill(path, 150);
    const second = await runAndKill(path, 50); // killed again, after resuming the first process's tasks

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

      const runtime = new TaskRuntime({ db: conn.db, execute: async () => {} });
      const summary = runtime.resumeAll();
      expect(summary.resumed).toBe(stored.size);
      expect(summary.failed).toBe(0);
      await runtime.shutdown(100);
    } finally {
      conn.close();
    }
  }, 20_000);
});
