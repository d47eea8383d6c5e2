import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type DatabaseConnection, insertTask, openDatabase } from '../../src/db/index.js';
import { runNonce, TaskRuntime } from '../../src/tasks/index.js';
import { useTempDir } from '../db/helpers.js';
import { definition, MINUTE, recordingExecutor, runningTasks } from './helpers.js';

const T0 = Date.UTC(2025, 5, 2, 12, 0, 0);

describe('restart recovery', () => {
  const tempDbPath = useTempDir();
  let path: string;
  let conn: DatabaseConnection;
  let runtime: TaskRuntime;
  const execute = recordingExecutor();

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    execute.calls.length = 0;
    path = tempDbPath();
    boot();
  });
  afterEach(async () => {
    await stopBot();
    vi.useRealTimers();
  });

  function boot() {
    conn = openDatabase(path);
    runtime = new TaskRuntime({ db: conn.db, execute });
  }
  async function stopBot() {
    const done = runtime.shutdown(1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    await done;
    conn.close();
  }
  /** Shuts the bot down, lets `downtimeMs` pass, and starts a new process's worth of runtime on the same file. */
  async function restartAfter(downtimeMs: number) {
    await stopBot();
    vi.setSystemTime(Date.now() + downtimeMs);
    boot();
    return runtime.resumeAll();
  }

  it('a short downtime loses nothing: state, count and nextRunAt survive, and no slot runs twice', async () => {
    await runtime.create('g1', definition({ count: 6 }));
    await vi.advanceTimersByTimeAsync(2 * MINUTE + 1_000); // iterations 0, 1, 2
    const before = runtime.info('g1', 'ping').task;
    expect(before).toMatchObject({ currentLoop: 3, nextRunAt: T0 + 3 * MINUTE });

    expect(await restartAfter(30_000)).toEqual({
      resumed: 1,
      caughtUp: 0,
      replayed: 0,
      interrupted: 0,
      failed: 0,
    });
    expect(runtime.info('g1', 'ping').task).toMatchObject({
      state: 'running',
      currentLoop: 3,
      lastRunAt: T0 + 2 * MINUTE,
      nextRunAt: T0 + 3 * MINUTE,
    });

    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(execute.calls.map((c) => [c.iteration, c.scheduledAt - T0])).toEqual([
      [0, 0],
      [1, MINUTE],
      [2, 2 * MINUTE],
      [3, 3 * MINUTE],
      [4, 4 * MINUTE],
      [5, 5 * MINUTE],
    ]);
    expect(runtime.info('g1', 'ping').task).toMatchObject({ state: 'completed', currentLoop: 6 });
  });

  it('catch-up skip: slots missed while down are skipped; the task goes on at its next slot', async () => {
    await runtime.create('g1', definition({ catchUp: 'skip' }));
    await vi.advanceTimersByTimeAsync(1_000); // iteration 0 at T0
    expect(await restartAfter(5.5 * MINUTE)).toEqual({
      resumed: 1,
      caughtUp: 0,
      replayed: 0,
      interrupted: 0,
      failed: 0,
    });
    expect(runtime.info('g1', 'ping').task).toMatchObject({ currentLoop: 1, nextRunAt: T0 + 6 * MINUTE });

    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(execute.calls.map((c) => [c.iteration, c.scheduledAt - T0, c.calledAt - T0])).toEqual([
      [0, 0, 0],
      [1, 6 * MINUTE, 6 * MINUTE],
    ]);
  });

  it('catch-up once: one late iteration now, for the first missed slot, then back on the grid', async () => {
    const task = await runtime.create('g1', definition({ catchUp: 'once' }));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await restartAfter(5.5 * MINUTE)).toEqual({
      resumed: 1,
      caughtUp: 1,
      replayed: 0,
      interrupted: 0,
      failed: 0,
    });
    const resumedAt = Date.now();

    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(execute.calls.map((c) => [c.iteration, c.scheduledAt - T0, c.calledAt - T0])).toEqual([
      [0, 0, 0],
      [1, MINUTE, resumedAt - T0], // late, once
      [2, 6 * MINUTE, 6 * MINUTE], // on the grid again
    ]);
    expect(execute.calls[1]?.nonce).toBe(runNonce(task.id, T0 + MINUTE));
    expect(runtime.info('g1', 'ping').task).toMatchObject({ currentLoop: 3, nextRunAt: T0 + 7 * MINUTE });
  });

  it('times of day resume on wall-clock slots with either policy', async () => {
    const schedule = { kind: 'times' as const, times: ['09:00', '18:00'], timeZone: 'Europe/Paris' };
    await runtime.create('g1', definition({ name: 'skip', schedule }));
    await runtime.create('g1', definition({ name: 'once', schedule, catchUp: 'once' }));
    await vi.advanceTimersByTimeAsync(6 * 60 * MINUTE); // 18:00 Paris = 16:00 UTC runs once for each
    expect(execute.calls.map((c) => c.scheduledAt)).toEqual([
      Date.UTC(2025, 5, 2, 16),
      Date.UTC(2025, 5, 2, 16),
    ]);

    // Down from 18:00 UTC to 10:00 UTC next day: 09:00 Paris (07:00 UTC) was missed.
    const summary = await restartAfter(16 * 60 * MINUTE - Date.now() + T0 + 6 * 60 * MINUTE);
    expect(summary).toEqual({ resumed: 2, caughtUp: 1, replayed: 0, interrupted: 0, failed: 0 });
    await vi.advanceTimersByTimeAsync(0);
    expect(execute.callsOf('once').map((c) => c.scheduledAt)).toEqual([
      Date.UTC(2025, 5, 2, 16),
      Date.UTC(2025, 5, 3, 7),
    ]);
    expect(runtime.info('g1', 'skip').task.nextRunAt).toBe(Date.UTC(2025, 5, 3, 16));
    expect(runtime.info('g1', 'once').task.nextRunAt).toBe(Date.UTC(2025, 5, 3, 16));
  });

  it('only running tasks come back; stopped, cancelled and completed ones stay as they were', async () => {
    await runtime.create('g1', definition({ name: 'on' }));
    await runtime.create('g1', definition({ name: 'paused' }));
    await runtime.create('g1', definition({ name: 'killed' }));
    await runtime.create('g1', definition({ name: 'done', count: 1 }));
    await runtime.create('g1', definition({ name: 'never', start: false }));
    await runtime.stop('g1', 'paused');
    await runtime.cancel('g1', 'killed');
    await vi.advanceTimersByTimeAsync(1_000);

    expect(await restartAfter(MINUTE / 2)).toEqual({
      resumed: 1,
      caughtUp: 0,
      replayed: 0,
      interrupted: 0,
      failed: 0,
    });
    const states = Object.fromEntries(runtime.list('g1').map((t) => [t.name, t.state]));
    expect(states).toEqual({
      on: 'running',
      paused: 'stopped',
      killed: 'cancelled',
      done: 'completed',
      never: 'stopped',
    });
    expect(runningTasks(runtime)).toBe(1);
  });

  it('a stored schedule the engine no longer accepts fails that task alone', async () => {
    await runtime.create('g1', definition());
    insertTask(conn.db, {
      guildId: 'g1',
      name: 'broken',
      kind: 'reminder',
      schedule: { kind: 'cron', cron: '61 * * * *', timeZone: 'UTC' },
      state: 'running',
      channelId: 'c',
      createdBy: 'u',
      createdAt: T0,
      updatedAt: T0,
    });
    expect(await restartAfter(1_000)).toEqual({
      resumed: 1,
      caughtUp: 0,
      replayed: 0,
      interrupted: 0,
      failed: 1,
    });
    expect(runtime.info('g1', 'broken').task).toMatchObject({
      state: 'failed',
      lastError: expect.stringMatching(/cron/),
    });
    expect(runtime.info('g1', 'ping').task.state).toBe('running');
  });

  it('shutdown waits for an iteration in flight and records it, leaving the row running', async () => {
    await stopBot();
    const slow = recordingExecutor(() => new Promise((resolve) => setTimeout(resolve, 400)));
    conn = openDatabase(path);
    runtime = new TaskRuntime({ db: conn.db, execute: slow });
    const startedAt = Date.now();
    await runtime.create('g1', definition());
    const done = runtime.shutdown(1_000);
    await vi.advanceTimersByTimeAsync(400);
    await done;
    const { task, runs } = runtime.info('g1', 'ping');
    expect(task).toMatchObject({ state: 'running', currentLoop: 1 });
    expect(runs.map((r) => [r.outcome, r.finishedAt - startedAt])).toEqual([['ok', 400]]);
    expect(slow.calls[0]?.signal.aborted).toBe(false);
  });

  it('shutdown is bounded: an iteration past the grace period is aborted, and the slot runs again next start', async () => {
    await stopBot();
    const stuck = recordingExecutor(() => new Promise(() => {}));
    conn = openDatabase(path);
    runtime = new TaskRuntime({ db: conn.db, execute: stuck });
    const created = await runtime.create('g1', definition({ catchUp: 'once' }));
    const slot = Date.now();
    const done = runtime.shutdown(1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    await done;
    expect(stuck.calls[0]?.signal.aborted).toBe(true);
    expect(runtime.info('g1', 'ping').runs.map((r) => r.outcome)).toEqual(['cancelled']);
    conn.close();

    vi.setSystemTime(Date.now() + 5_000);
    boot();
    // Aborted mid-run, it may have posted: its intent stays, so within the retry window the slot runs again.
    expect(runtime.resumeAll()).toMatchObject({ resumed: 1, caughtUp: 0, replayed: 1 });
    await vi.advanceTimersByTimeAsync(0);
    // The interrupted slot again, with the same nonce: a post it may have made is not repeated.
    expect(execute.calls.map((c) => [c.iteration, c.scheduledAt, c.nonce])).toEqual([
      [0, slot, runNonce(created.id, slot)],
    ]);
  });
});
