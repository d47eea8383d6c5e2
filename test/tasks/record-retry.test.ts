// A batch of run records that cannot be written (disk full, SQLITE_BUSY past the timeout) is kept and
// retried, merged with newer records in order, until the database takes it again.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type DatabaseConnection, getTaskById, lastRuns, openDatabase } from '../../src/db/index.js';
import { TransientError } from '../../src/loop/index.js';
import { TaskRuntime } from '../../src/tasks/index.js';
import { useTempDir } from '../db/helpers.js';
import { definition, MINUTE, recordingExecutor } from './helpers.js';

const T0 = Date.UTC(2025, 5, 2, 12, 0, 0);

describe('run records the database refuses for a while', () => {
  const tempDbPath = useTempDir();
  let conn: DatabaseConnection;
  let logs: { level: number; msg: string; [key: string]: unknown }[];

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    conn = openDatabase(tempDbPath());
    logs = [];
  });
  afterEach(() => {
    conn.close();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  const failRunInserts = () =>
    conn.sqlite.exec(
      "CREATE TRIGGER fail_runs BEFORE INSERT ON task_runs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    );
  const acceptRunInserts = () => conn.sqlite.exec('DROP TRIGGER fail_runs');
  const log = () => pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const errorsLogged = () => logs.filter((l) => l.level === 50);

  it('keeps the failed batch, retries it with backoff, and loses nothing once the database recovers', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    let failNext = false;
    const execute = recordingExecutor(async (_task, ctx) => {
      if (ctx.iteration === 2 && !failNext) {
        failNext = true;
        throw new TransientError('Discord hiccup');
      }
    });
    const runtime = new TaskRuntime({ db: conn.db, execute, log: log() });
    const task = await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(30_000); // iteration 0 recorded

    failRunInserts();
    await vi.advanceTimersByTimeAsync(4 * MINUTE); // iterations 1, 2 (retried once, then ok), 3, 4
    expect(runtime.flush()).toBe(false);
    const stale = getTaskById(conn.db, task.id);
    expect(stale).toMatchObject({ currentLoop: 1, lastRunAt: T0 });
    // One error line per attempt, with the count, not one per iteration: retries back off (1 s, 2 s, 4 s…).
    const errors = errorsLogged();
    expect(errors.length).toBeLessThan(12);
    expect(errors.at(-1)).toMatchObject({
      msg: expect.stringMatching(/could not record task runs/),
      runs: 5,
    });

    acceptRunInserts();
    await vi.advanceTimersByTimeAsync(MINUTE + 1_000); // the next retry writes the backlog, and iteration 5
    const row = getTaskById(conn.db, task.id);
    expect(row).toMatchObject({
      state: 'running',
      currentLoop: 6,
      lastRunAt: T0 + 5 * MINUTE,
      nextRunAt: T0 + 6 * MINUTE,
      lastError: 'Discord hiccup',
    });
    const runs = lastRuns(conn.db, task.id, 100).reverse();
    expect(runs.map((r) => [r.outcome, (r.scheduledAt - T0) / MINUTE])).toEqual([
      ['ok', 0],
      ['ok', 1],
      ['retried', 2],
      ['ok', 2],
      ['ok', 3],
      ['ok', 4],
      ['ok', 5],
    ]);
    expect(logs.some((l) => l.level === 40 && /after retrying/.test(l.msg))).toBe(true);
    expect(runtime.flush()).toBe(true);

    const shutdown = runtime.shutdown(0);
    await vi.advanceTimersByTimeAsync(0);
    await shutdown;
    expect(logs.filter((l) => l.level === 60)).toEqual([]);
  });

  it('a retry after a failed batch keeps the last success even when a later run failed', async () => {
    let calls = 0;
    const execute = recordingExecutor(async () => {
      if (++calls === 2) throw new TransientError('Discord hiccup'); // iteration 1's first attempt
    });
    const runtime = new TaskRuntime({ db: conn.db, execute, log: log() });
    const task = await runtime.create('g1', definition());
    failRunInserts(); // iteration 0's record is still waiting for its microtask
    await vi.advanceTimersByTimeAsync(MINUTE + 500); // iteration 1 retried, its row read while stale
    acceptRunInserts();
    expect(runtime.flush()).toBe(true);
    // The retried record, read from a row that still said lastRunAt null, does not undo iteration 0's success.
    expect(getTaskById(conn.db, task.id)).toMatchObject({ currentLoop: 1, lastRunAt: T0 });
    const shutdown = runtime.shutdown(0);
    await vi.advanceTimersByTimeAsync(0);
    await shutdown;
  });

  // Records still waiting to be written carry the progress of the run that made them. Written after a
  // command as they were made, they would put back the currentLoop and nextRunAt the command had replaced.
  describe('a command is not undone by records still waiting to be written', () => {
    const stopRuntime = async (runtime: TaskRuntime) => {
      const shutdown = runtime.shutdown(0);
      await vi.advanceTimersByTimeAsync(0);
      await shutdown;
    };
    let current: TaskRuntime | undefined;
    afterEach(async () => {
      // Also after a failed assertion, so its retries cannot log into the next test.
      if (current) await stopRuntime(current);
      current = undefined;
    });
    /** A task on the minute with runs 0 and 1 written and runs 2, 3 and 4 waiting to be written. */
    async function withBacklog() {
      const execute = recordingExecutor();
      const runtime = new TaskRuntime({ db: conn.db, execute, log: log() });
      current = runtime;
      const cron = { kind: 'cron' as const, cron: '* * * * *', timeZone: 'UTC' };
      const task = await runtime.create('g1', definition({ schedule: cron }));
      await vi.advanceTimersByTimeAsync(MINUTE + 30_000); // runs at 0 and 1 min written
      failRunInserts();
      await vi.advanceTimersByTimeAsync(3 * MINUTE); // runs at 2, 3 and 4 min waiting
      expect(getTaskById(conn.db, task.id)).toMatchObject({ currentLoop: 2 });
      expect(runtime.flush()).toBe(false);
      return { runtime, execute, task };
    }

    it('restart: the count starts again from zero, and the waiting runs are kept as history', async () => {
      const { runtime, task } = await withBacklog();
      const restarted = await runtime.restart('g1', 'ping');
      expect(restarted).toMatchObject({ state: 'running', currentLoop: 0, nextRunAt: T0 + 5 * MINUTE });
      acceptRunInserts();
      expect(runtime.flush()).toBe(true);
      expect(getTaskById(conn.db, task.id)).toMatchObject({
        state: 'running',
        currentLoop: 0,
        nextRunAt: T0 + 5 * MINUTE,
      });
      expect(lastRuns(conn.db, task.id, 100).map((r) => (r.scheduledAt - T0) / MINUTE)).toEqual([
        4, 3, 2, 1, 0,
      ]);
      await vi.advanceTimersByTimeAsync(MINUTE);
      expect(getTaskById(conn.db, task.id)).toMatchObject({ currentLoop: 1, lastRunAt: T0 + 5 * MINUTE });
    });

    it.each([
      ['cancel', 'cancelled'],
      ['stop', 'stopped'],
    ] as const)('%s: no next run comes back, and the runs made are kept', async (command, state) => {
      const { runtime, execute, task } = await withBacklog();
      await runtime[command]('g1', 'ping');
      await vi.advanceTimersByTimeAsync(0);
      acceptRunInserts();
      expect(runtime.flush()).toBe(true);
      expect(getTaskById(conn.db, task.id)).toMatchObject({ state, currentLoop: 5, nextRunAt: null });

      await vi.advanceTimersByTimeAsync(MINUTE);
      expect(execute.calls).toHaveLength(5);
      expect(await runtime.start('g1', 'ping')).toMatchObject({ state: 'running', currentLoop: 5 });
      await vi.advanceTimersByTimeAsync(MINUTE);
      expect(execute.calls.at(-1)?.iteration).toBe(5);
    });

    it('start: continues from the runs waiting to be written, not from the stale row', async () => {
      const { runtime, execute, task } = await withBacklog();
      await runtime.stop('g1', 'ping');
      await vi.advanceTimersByTimeAsync(0);
      const started = await runtime.start('g1', 'ping'); // the database still refuses the backlog
      expect(started).toMatchObject({ state: 'running', currentLoop: 5, nextRunAt: T0 + 5 * MINUTE });
      acceptRunInserts();
      expect(runtime.flush()).toBe(true);
      expect(getTaskById(conn.db, task.id)).toMatchObject({
        state: 'running',
        currentLoop: 5,
        nextRunAt: T0 + 5 * MINUTE,
      });
      await vi.advanceTimersByTimeAsync(MINUTE);
      expect(execute.calls.at(-1)).toMatchObject({ iteration: 5, scheduledAt: T0 + 5 * MINUTE });
    });
  });

  it('tries once more at shutdown, then logs at fatal level what was not saved', async () => {
    const runtime = new TaskRuntime({ db: conn.db, execute: recordingExecutor(), log: log() });
    const task = await runtime.create('g1', definition());
    failRunInserts();
    await vi.advanceTimersByTimeAsync(2 * MINUTE);
    const shutdown = runtime.shutdown(0);
    await vi.advanceTimersByTimeAsync(0);
    await shutdown;
    const fatal = logs.filter((l) => l.level === 60);
    expect(fatal).toEqual([
      expect.objectContaining({
        msg: 'task runs not saved at shutdown',
        runs: 3,
        tasks: { [task.id]: { currentLoop: 3, lastRunAt: T0 + 2 * MINUTE, nextRunAt: T0 + 3 * MINUTE } },
      }),
    ]);
    const errorsAtShutdown = errorsLogged().length;
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(errorsLogged()).toHaveLength(errorsAtShutdown); // no retry left armed
  });
});
