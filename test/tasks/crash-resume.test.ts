// Exactly once across crashes, with fake timers: a crash is a runtime abandoned mid-run (its database
// connection closed, no shutdown), and a new runtime on the same file, as the next process would be.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type DatabaseConnection,
  getTaskById,
  lastRuns,
  listRunIntents,
  openDatabase,
} from '../../src/db/index.js';
import { TransientError } from '../../src/loop/index.js';
import { RUN_RETRY_WINDOW_MINUTES, runNonce, type Task, TaskRuntime } from '../../src/tasks/index.js';
import { useTempDir } from '../db/helpers.js';
import { definition, MINUTE, recordingExecutor } from './helpers.js';

const T0 = Date.UTC(2025, 5, 2, 12, 0, 0);
const WINDOW = RUN_RETRY_WINDOW_MINUTES * MINUTE;

describe('a crash during a run', () => {
  const tempDbPath = useTempDir();
  let path: string;
  let conn: DatabaseConnection;
  let runtime: TaskRuntime;
  /** The ends of the runtimes of "processes" that crashed. */
  const crashed: Promise<void>[] = [];
  /** Iterations (by task name) whose handler "posts" and then never returns: the process dies in them. */
  const dieDuring = new Map<string, number>();
  let firstAttemptFails = false;
  /** A slot whose every attempt meets a Discord outage. */
  let failingSlot: number | undefined;
  let onCall: ((task: Task) => void) | undefined;
  const execute = recordingExecutor(async (task, ctx) => {
    onCall?.(task);
    if (ctx.scheduledAt.getTime() === failingSlot) throw new TransientError('Discord is down');
    if (firstAttemptFails) {
      firstAttemptFails = false;
      throw new TransientError('Discord hiccup');
    }
    if (dieDuring.get(task.name) === ctx.iteration) await new Promise(() => {});
  });

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    execute.calls.length = 0;
    dieDuring.clear();
    firstAttemptFails = false;
    failingSlot = undefined;
    onCall = undefined;
    path = tempDbPath();
    boot();
  });
  afterEach(async () => {
    const done = runtime.shutdown(0);
    await vi.advanceTimersByTimeAsync(0);
    await Promise.all([done, ...crashed.splice(0)]);
    if (conn.sqlite.open) conn.close();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  function boot() {
    conn = openDatabase(path);
    runtime = new TaskRuntime({ db: conn.db, execute });
  }
  /** The process dies now: nothing more reaches the file. After `downtimeMs` a new process starts. */
  function crashAndRestart(downtimeMs: number) {
    conn.close();
    // Its loops must not go on in this test process: with its connection closed it can write nothing more.
    crashed.push(runtime.shutdown(0));
    dieDuring.clear(); // the next process does not die
    vi.setSystemTime(Date.now() + downtimeMs);
    execute.calls.length = 0;
    boot();
    return runtime.resumeAll();
  }
  const task = (name = 'ping'): Task => runtime.info('g1', name).task;
  const outcomes = (name = 'ping') =>
    runtime
      .info('g1', name, 100)
      .runs.reverse()
      .map((r) => [r.outcome, (r.scheduledAt - T0) / MINUTE]);
  const calls = () => execute.calls.map((c) => [c.iteration, (c.scheduledAt - T0) / MINUTE]);

  it('the handler is called only once its start is committed, and the record that settles the slot clears it', async () => {
    const seen: [string, unknown[]][] = [];
    onCall = (called) => seen.push([called.name, listRunIntents(conn.db)]);
    const ping = await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(0);
    const other = await runtime.create('g1', definition({ name: 'other' }));
    await vi.advanceTimersByTimeAsync(MINUTE);
    const intent = (taskId: number, minute: number) => {
      const slot = T0 + minute * MINUTE;
      return { taskId, scheduledAt: slot, startedAt: slot, iteration: minute };
    };
    expect(seen).toEqual([
      ['ping', [intent(ping.id, 0)]],
      ['other', [intent(other.id, 0)]], // ping's record of slot 0 had cleared its intent
      // Slots due in the same tick: their starts are committed together, before either handler runs.
      ['ping', [intent(ping.id, 1), intent(other.id, 1)]],
      ['other', [intent(ping.id, 1), intent(other.id, 1)]],
    ]);
    expect(outcomes('other')).toEqual([
      ['ok', 0],
      ['ok', 1],
    ]);
    expect(listRunIntents(conn.db)).toEqual([]);
  });

  it('within the retry window, the interrupted slot runs again as the same iteration with the same nonce, counted once', async () => {
    dieDuring.set('ping', 1);
    const created = await runtime.create('g1', definition({ count: 3 }));
    await vi.advanceTimersByTimeAsync(MINUTE); // iteration 0 ok; iteration 1 posts, then the process dies
    expect(calls()).toEqual([
      [0, 0],
      [1, 1],
    ]);
    const nonce = execute.calls[1]!.nonce;

    expect(crashAndRestart(WINDOW - 1_000)).toEqual({
      resumed: 1,
      caughtUp: 0,
      replayed: 1,
      interrupted: 0,
      failed: 0,
    });
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(calls()).toEqual([
      [1, 1], // now, at T0 + 2:59
      [2, 3], // slot 2 was missed while down (catch-up skip)
    ]);
    expect(execute.calls[0]!.nonce).toBe(nonce);
    expect(nonce).toBe(runNonce(created.id, T0 + MINUTE));
    expect(task()).toMatchObject({ state: 'completed', currentLoop: 3 });
    expect(outcomes()).toEqual([
      ['ok', 0],
      ['ok', 1],
      ['ok', 3],
    ]);
    expect(listRunIntents(conn.db)).toEqual([]);
  });

  it('past the window, the slot is recorded as interrupted and counted: a count is never exceeded', async () => {
    dieDuring.set('ping', 1);
    await runtime.create('g1', definition({ count: 2 }));
    await vi.advanceTimersByTimeAsync(MINUTE);

    expect(crashAndRestart(WINDOW)).toEqual({
      resumed: 0,
      caughtUp: 0,
      replayed: 0,
      interrupted: 1,
      failed: 0,
    });
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(execute.calls).toEqual([]);
    expect(task()).toMatchObject({
      state: 'completed',
      currentLoop: 2,
      lastRunAt: T0 + MINUTE,
      nextRunAt: null,
    });
    expect(outcomes()).toEqual([
      ['ok', 0],
      ['interrupted', 1],
    ]);
    expect(listRunIntents(conn.db)).toEqual([]);
  });

  it.each([
    ['skip', [[2, 7]]],
    [
      'once',
      [
        [2, 2], // the first slot missed after the interrupted one, late
        [3, 7],
      ],
    ],
  ] as const)(
    'past the window, catch-up %s decides what runs next, after the interrupted slot',
    async (catchUp, expected) => {
      dieDuring.set('ping', 1);
      await runtime.create('g1', definition({ catchUp }));
      await vi.advanceTimersByTimeAsync(MINUTE);

      const summary = crashAndRestart(5.5 * MINUTE); // back at T0 + 6.5 min
      expect(summary).toMatchObject({
        resumed: 1,
        replayed: 0,
        interrupted: 1,
        caughtUp: catchUp === 'once' ? 1 : 0,
      });
      expect(task()).toMatchObject({ currentLoop: 2, lastRunAt: T0 + MINUTE });
      await vi.advanceTimersByTimeAsync(MINUTE);
      expect(calls()).toEqual(expected);
    },
  );

  it('the window is counted from the first attempt of the slot: a retry keeps the intent and its start', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1); // the first retry waits its whole step: 1 s
    firstAttemptFails = true;
    dieDuring.set('ping', 0);
    const created = await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(1_000); // attempt 1 fails at T0, attempt 2 at T0 + 1 s dies
    expect(execute.calls).toHaveLength(2);
    expect(listRunIntents(conn.db)).toEqual([
      { taskId: created.id, scheduledAt: T0, startedAt: T0, iteration: 0 },
    ]);
    expect(outcomes()).toEqual([['retried', 0]]);

    // Two minutes after the first attempt, though not after the second: too late to post again.
    expect(crashAndRestart(T0 + WINDOW - Date.now())).toMatchObject({ interrupted: 1, replayed: 0 });
    expect(outcomes()).toEqual([
      ['retried', 0],
      ['interrupted', 0],
    ]);
    expect(task().currentLoop).toBe(1);
  });

  it('a replayed slot is not retried past the window counted from its first attempt before the crash', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1); // retries 1 s, 2 s, 4 s, 8 s after each failure
    dieDuring.set('ping', 1);
    await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(MINUTE); // slot 1's first attempt starts at T0 + 1 min, then the crash
    failingSlot = T0 + MINUTE; // and Discord is down when the next process replays it

    expect(crashAndRestart(WINDOW - 10_000)).toMatchObject({ replayed: 1 }); // back at T0 + 2:50
    await vi.advanceTimersByTimeAsync(MINUTE + 30_000);
    // Attempts at 2:50, 2:51, 2:53 and 2:57; the one due at 3:05 would be past 3:00, so it is not made.
    expect(execute.calls.map((c) => (c.calledAt - T0) / 1_000)).toEqual([170, 171, 173, 177, 240]);
    expect(outcomes().slice(1)).toEqual([
      ['retried', 1],
      ['retried', 1],
      ['retried', 1],
      ['retried', 1],
      ['interrupted', 1],
      ['ok', 4],
    ]);
    expect(task()).toMatchObject({ currentLoop: 3, lastRunAt: T0 + 4 * MINUTE });
    expect(listRunIntents(conn.db)).toEqual([]);
  });

  it('a crash after the record leaves nothing open: the task resumes on its grid', async () => {
    await runtime.create('g1', definition({ count: 3 }));
    await vi.advanceTimersByTimeAsync(MINUTE); // iterations 0 and 1 recorded
    expect(listRunIntents(conn.db)).toEqual([]);
    expect(crashAndRestart(30_000)).toMatchObject({ resumed: 1, replayed: 0, interrupted: 0 });
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(calls()).toEqual([[2, 2]]);
    expect(task()).toMatchObject({ state: 'completed', currentLoop: 3 });
  });

  it.each([
    ['stopped', 'while its last run was in flight'],
    ['failed', 'by the watchdog that ended the process'],
  ] as const)(
    'a task %s %s has its open attempt recorded as interrupted, and keeps its state',
    async (state, _why) => {
      dieDuring.set('ping', 1);
      await runtime.create('g1', definition());
      await runtime.create('g1', definition({ name: 'other' }));
      await vi.advanceTimersByTimeAsync(MINUTE);
      if (state === 'stopped')
        await runtime.stop('g1', 'ping'); // graceful: the run in flight goes on
      else
        conn.sqlite
          .prepare("UPDATE tasks SET state = 'failed', last_error = 'blocked' WHERE name = 'ping'")
          .run();

      expect(crashAndRestart(30_000)).toEqual({
        resumed: 1,
        caughtUp: 0,
        replayed: 0,
        interrupted: 1,
        failed: 0,
      });
      await vi.advanceTimersByTimeAsync(5 * MINUTE);
      expect(task()).toMatchObject({ state, currentLoop: 2, nextRunAt: null, lastRunAt: T0 + MINUTE });
      expect(outcomes()).toEqual([
        ['ok', 0],
        ['interrupted', 1],
      ]);
      expect(execute.calls.every((c) => c.taskName === 'other')).toBe(true);
      expect(listRunIntents(conn.db)).toEqual([]);
    },
  );

  it('a restart from zero disowns the open attempt of the old run', async () => {
    dieDuring.set('ping', 1);
    const created = await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(MINUTE + 10_000);
    expect(listRunIntents(conn.db)).toMatchObject([{ scheduledAt: T0 + MINUTE, iteration: 1 }]);
    dieDuring.clear();
    await runtime.restart('g1', 'ping');
    // The new run's first slot is now, but it never overlaps the old handler, which ignores its signal: it
    // runs once that attempt is abandoned at its 60 s timeout (it started at T0 + 1 min).
    await vi.advanceTimersByTimeAsync(2 * MINUTE - (MINUTE + 10_000) + 10);
    expect(listRunIntents(conn.db)).toEqual([]);
    expect(getTaskById(conn.db, created.id)).toMatchObject({ state: 'running', currentLoop: 1 });
    expect(outcomes().at(-1)).toEqual(['ok', (MINUTE + 10_000) / MINUTE]);
  });
});

describe('an attempt whose start the database refuses', () => {
  const tempDbPath = useTempDir();

  it('does not run: the slot is retried with backoff, and runs once the database takes it', async () => {
    vi.useFakeTimers({ now: T0 });
    const conn = openDatabase(tempDbPath());
    const execute = recordingExecutor();
    const runtime = new TaskRuntime({ db: conn.db, execute });
    try {
      conn.sqlite.exec(
        "CREATE TRIGGER full BEFORE INSERT ON run_intents BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
      );
      const created = await runtime.create('g1', definition());
      await vi.advanceTimersByTimeAsync(10_000);
      expect(execute.calls).toEqual([]);
      const refused = lastRuns(conn.db, created.id, 100);
      expect(refused.length).toBeGreaterThan(1);
      expect(refused.every((r) => r.outcome === 'retried' && r.scheduledAt === T0)).toBe(true);
      expect(refused[0]!.error).toMatch(
        /database did not take the start of this run \(database or disk is full\)/,
      );

      conn.sqlite.exec('DROP TRIGGER full');
      await vi.advanceTimersByTimeAsync(30_000);
      expect(execute.calls.map((c) => c.scheduledAt)).toEqual([T0]);
      expect(getTaskById(conn.db, created.id)).toMatchObject({ currentLoop: 1, lastRunAt: T0 });
    } finally {
      const done = runtime.shutdown(0);
      await vi.advanceTimersByTimeAsync(0);
      await done;
      conn.close();
      vi.useRealTimers();
    }
  });
});
