// The run journal on its own: write-ahead intents batched per tick, write-behind records kept and retried.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type DatabaseConnection,
  getTaskById,
  type IterationRecord,
  insertTask,
  lastRuns,
  listRunIntents,
  openDatabase,
} from '../../src/db/index.js';
import { TransientError } from '../../src/loop/index.js';
import { type JournalWriteEvent, RuntimeEvents } from '../../src/tasks/events.js';
import { RunJournal } from '../../src/tasks/journal.js';
import { taskValues, useTempDir } from '../db/helpers.js';

describe('RunJournal', () => {
  const tempDbPath = useTempDir();
  let conn: DatabaseConnection;
  let journal: RunJournal;
  let writes: JournalWriteEvent[];
  let logs: { level: number; msg: string; [key: string]: unknown }[];
  let a: number;
  let b: number;

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    conn = openDatabase(tempDbPath());
    logs = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    const events = new RuntimeEvents();
    writes = [];
    events.on('journalWrite', (write) => void writes.push(write));
    journal = new RunJournal(conn.db, log, events);
    a = insertTask(conn.db, taskValues({ name: 'a', state: 'running' })).id;
    b = insertTask(conn.db, taskValues({ name: 'b', state: 'running' })).id;
  });
  afterEach(() => {
    journal.close();
    conn.close();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  const intent = (taskId: number, scheduledAt = 60, startedAt = scheduledAt) => ({
    taskId,
    scheduledAt,
    startedAt,
    iteration: 0,
  });
  const record = (taskId: number, overrides: Partial<IterationRecord> = {}): IterationRecord => ({
    taskId,
    scheduledAt: 60,
    startedAt: 60,
    finishedAt: 61,
    outcome: 'ok',
    error: null,
    currentLoop: 1,
    lastRunAt: 60,
    nextRunAt: 120,
    lastError: null,
    settlesSlot: true,
    ...overrides,
  });

  it("writes one tick's intents in one transaction, and resolves only once they are committed", async () => {
    const transactions = vi.spyOn(conn.sqlite, 'transaction');
    const first = journal.begin(intent(a));
    const second = journal.begin(intent(b));
    expect(second).toBe(first);
    expect(listRunIntents(conn.db)).toEqual([]); // not before the tick's synchronous work is over
    let committed: unknown;
    await first.then(() => {
      committed = listRunIntents(conn.db);
    });
    expect(committed).toEqual([intent(a), intent(b)]);
    expect(transactions).toHaveBeenCalledTimes(1);

    const next = journal.begin(intent(a, 120));
    expect(next).not.toBe(first); // a later tick is a batch of its own
    await next;
    expect(transactions).toHaveBeenCalledTimes(2);
  });

  it('rejects the whole batch with a TransientError when the database refuses it; the next tick tries again', async () => {
    conn.sqlite.exec(
      "CREATE TRIGGER full BEFORE INSERT ON run_intents BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    );
    const refused = journal.begin(intent(a));
    await expect(refused).rejects.toBeInstanceOf(TransientError);
    await expect(refused).rejects.toThrow(
      'the database did not take the start of this run (database or disk is full), so it was not run',
    );
    expect(logs.at(-1)).toMatchObject({ level: 50, msg: 'could not record that task runs started', runs: 1 });
    conn.sqlite.exec('DROP TRIGGER full');
    await journal.begin(intent(a));
    expect(listRunIntents(conn.db)).toEqual([intent(a)]);
  });

  it("writes the tick's records in one transaction; a retried attempt keeps its intent, a settled slot clears it", async () => {
    await journal.begin(intent(a));
    await journal.begin(intent(b));
    const transactions = vi.spyOn(conn.sqlite, 'transaction');
    journal.record(record(a, { outcome: 'retried', settlesSlot: false, currentLoop: 0, lastRunAt: null }));
    journal.record(record(b));
    expect(lastRuns(conn.db, b)).toEqual([]);
    await Promise.resolve();
    expect(transactions).toHaveBeenCalledTimes(1);
    expect(lastRuns(conn.db, a).map((r) => r.outcome)).toEqual(['retried']);
    expect(getTaskById(conn.db, b)).toMatchObject({ currentLoop: 1, lastRunAt: 60, nextRunAt: 120 });
    expect(listRunIntents(conn.db)).toEqual([intent(a)]);
  });

  it('tells its events of each write: what, how many rows, whether it took, and what is still queued', async () => {
    await journal.begin(intent(a));
    journal.record(record(a));
    journal.record(record(b));
    expect(journal.queued).toBe(2);
    await Promise.resolve();
    expect(journal.queued).toBe(0);
    conn.sqlite.exec(
      "CREATE TRIGGER full BEFORE INSERT ON task_runs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    );
    journal.record(record(a, { scheduledAt: 120 }));
    expect(journal.flush()).toBe(false);
    expect(writes.map(({ durationMs: _, ...write }) => write)).toEqual([
      { what: 'intents', rows: 1, ok: true, queued: 0 },
      { what: 'records', rows: 2, ok: true, queued: 0 },
      { what: 'records', rows: 1, ok: false, queued: 1 },
    ]);
    expect(writes.every((write) => write.durationMs >= 0)).toBe(true);
    expect(journal.queued).toBe(1);
  });

  it('keeps a batch the database refuses, ahead of newer records, and retries it with backoff', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    conn.sqlite.exec(
      "CREATE TRIGGER full BEFORE INSERT ON task_runs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    );
    journal.record(record(a));
    await Promise.resolve();
    expect(logs.map((l) => [l.msg, l.retryInMs])).toEqual([
      ['could not record task runs; keeping them to retry', 1_000],
    ]);
    journal.record(record(a, { scheduledAt: 120, currentLoop: 2, lastRunAt: 120, nextRunAt: 180 }));
    await Promise.resolve(); // joins the backlog: no write before the retry
    expect(logs).toHaveLength(1);
    expect(journal.pendingCurrentLoop(a)).toBe(2);
    expect(journal.pendingCurrentLoop(b)).toBeUndefined();

    await vi.advanceTimersByTimeAsync(1_000);
    expect(logs.at(-1)).toMatchObject({ runs: 2, attempt: 2, retryInMs: 2_000 });
    conn.sqlite.exec('DROP TRIGGER full');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(logs.at(-1)).toMatchObject({ level: 40, msg: 'recorded task runs after retrying', runs: 2 });
    expect(lastRuns(conn.db, a).map((r) => r.scheduledAt)).toEqual([120, 60]);
    expect(getTaskById(conn.db, a)).toMatchObject({ currentLoop: 2, lastRunAt: 120, nextRunAt: 180 });
  });

  it("rebases a task's waiting records on a command's write, and close() names what could not be saved", async () => {
    conn.sqlite.exec(
      "CREATE TRIGGER full BEFORE INSERT ON task_runs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    );
    journal.record(record(a));
    journal.record(record(b));
    expect(journal.flush()).toBe(false);
    journal.rebase(a, { currentLoop: 0, nextRunAt: null });
    expect(journal.pendingCurrentLoop(a)).toBe(0);
    expect(journal.close()).toEqual({
      runs: 2,
      tasks: {
        [a]: { currentLoop: 0, lastRunAt: 60, nextRunAt: null },
        [b]: { currentLoop: 1, lastRunAt: 60, nextRunAt: 120 },
      },
    });
    const errors = logs.length;
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(logs).toHaveLength(errors); // closed: no retry left armed
  });
});
