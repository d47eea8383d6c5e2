// Run records while another connection holds the database's write lock: nothing is lost, nothing is
// written out of order, and everything waiting is written once the lock is released. The lock is real
// (BEGIN IMMEDIATE on a second connection), not a simulated failure.
import Sqlite from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type DatabaseConnection, getTaskById, lastRuns, openDatabase } from '../../src/db/index.js';
import { TaskRuntime } from '../../src/tasks/index.js';
import { useTempDir } from '../db/helpers.js';
import { definition, MINUTE, recordingExecutor } from './helpers.js';

const T0 = Date.UTC(2025, 5, 2, 12, 0, 0);

describe('run records on a locked database', () => {
  const tempDbPath = useTempDir();
  let conn: DatabaseConnection;
  let other: Sqlite.Database;
  let logs: { level: number; msg: string; [key: string]: unknown }[];

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    const path = tempDbPath();
    conn = openDatabase(path);
    other = new Sqlite(path);
    logs = [];
  });
  afterEach(() => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    conn.close();
    vi.useRealTimers();
  });

  it('stay queued in order while the lock is held and are all written once it is released', async () => {
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    const execute = recordingExecutor();
    const runtime = new TaskRuntime({ db: conn.db, execute, log });
    const task = await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(30_000);
    expect(lastRuns(conn.db, task.id)).toHaveLength(1); // iteration 0, before the lock

    other.exec('BEGIN IMMEDIATE');
    await vi.advanceTimersByTimeAsync(3 * MINUTE);
    expect(runtime.flush()).toBe(false);
    expect(lastRuns(conn.db, task.id)).toHaveLength(1);
    expect(logs.some((l) => /could not record/.test(l.msg))).toBe(true);
    other.exec('ROLLBACK');

    await vi.advanceTimersByTimeAsync(2 * MINUTE);
    expect(runtime.flush()).toBe(true);
    const runs = lastRuns(conn.db, task.id, 100).reverse(); // oldest first, by id: the order written
    expect(runs.length).toBeGreaterThan(2);
    expect(runs[0]).toMatchObject({ outcome: 'ok', scheduledAt: T0 });
    expect(runs.at(-1)).toMatchObject({ outcome: 'ok' });
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i]!.scheduledAt).toBeGreaterThanOrEqual(runs[i - 1]!.scheduledAt);
      expect(runs[i]!.startedAt).toBeGreaterThanOrEqual(runs[i - 1]!.startedAt);
    }
    // Attempts that met the lock say so; the task carries on.
    expect(runs.filter((r) => r.outcome !== 'ok').every((r) => /busy|locked/.test(r.error ?? ''))).toBe(true);
    expect(getTaskById(conn.db, task.id)).toMatchObject({ state: 'running' });

    const shutdown = runtime.shutdown(0);
    await vi.advanceTimersByTimeAsync(0);
    await shutdown;
    expect(logs.filter((l) => l.level === 60)).toEqual([]);
  }, 30_000); // each refused write really waits ~100 ms, some 25 of them: slow on a loaded machine
});
