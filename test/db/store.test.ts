import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  clearRunIntent,
  countTasks,
  type DatabaseConnection,
  deleteMeta,
  deleteTask,
  getCounterState,
  getHandlerState,
  getLeaderboardState,
  getMeta,
  getTask,
  getTaskById,
  getTasksByIds,
  insertTask,
  inTransaction,
  lastRuns,
  listRunIntents,
  listRunningTaskTimings,
  listTasks,
  metaKeysStartingWith,
  openDatabase,
  RUNS_KEPT_PER_TASK,
  RUNS_PRUNED_EVERY,
  rankMembersByMessages,
  recordIterations,
  recordMessageBatch,
  saveCounterState,
  saveLeaderboardState,
  setHandlerState,
  setMeta,
  setNextRuns,
  updateTask,
  utcDay,
  writeRunIntents,
} from '../../src/db/index.js';
import { taskValues, useTempDir } from './helpers.js';

describe('store', () => {
  const tempDbPath = useTempDir();
  let conn: DatabaseConnection;
  /** One finished iteration of the task at instant `at`, as the runtime records it. */
  const finished = (taskId: number, at: number) => ({
    taskId,
    scheduledAt: at,
    startedAt: at,
    finishedAt: at,
    outcome: 'ok' as const,
    error: null,
    currentLoop: at + 1,
    lastRunAt: at,
    nextRunAt: at + 60,
    lastError: null,
    settlesSlot: true,
  });
  /** How many runs the task's history holds. */
  const runCount = (taskId: number) => lastRuns(conn.db, taskId, 1_000).length;
  beforeEach(() => {
    conn = openDatabase(tempDbPath());
  });
  afterEach(() => conn.close());

  it('round-trips a task with its JSON columns and defaults', () => {
    const task = insertTask(
      conn.db,
      taskValues({ schedule: { kind: 'times', times: ['09:00', '18:30'], timeZone: 'Europe/Paris' } }),
    );
    expect(getTask(conn.db, 'g1', 'daily')).toEqual(task);
    // The raw by-id read maps its columns by position (taskFromRow): every field must land where drizzle puts it.
    expect(getTaskById(conn.db, task.id)).toEqual(task);
    expect(task).toMatchObject({
      options: { text: 'hi' },
      schedule: { kind: 'times', times: ['09:00', '18:30'], timeZone: 'Europe/Paris' },
      state: 'stopped',
      catchUp: 'skip',
      count: null,
      currentLoop: 0,
      timeoutMs: 60_000,
    });
  });

  it('reads tasks by id together, in the order asked, with nothing where a task is gone', () => {
    const a = insertTask(conn.db, taskValues());
    const b = insertTask(conn.db, taskValues({ name: 'other', schedule: { kind: 'interval', seconds: 5 } }));
    expect(getTasksByIds(conn.db, [b.id, 9_999, a.id, b.id])).toEqual([b, undefined, a, b]);
    expect(getTasksByIds(conn.db, [])).toEqual([]);
  });

  it('keeps names unique per guild, not across guilds', () => {
    insertTask(conn.db, taskValues());
    expect(() => insertTask(conn.db, taskValues())).toThrow(/UNIQUE/);
    insertTask(conn.db, taskValues({ guildId: 'g2' }));
    expect(listTasks(conn.db, 'g1').map((t) => t.guildId)).toEqual(['g1']);
    expect(countTasks(conn.db, 'g2')).toBe(1);
  });

  it('updates, lists running tasks and deletes within a guild only', () => {
    const a = insertTask(conn.db, taskValues());
    insertTask(conn.db, taskValues({ guildId: 'g2' }));
    expect(updateTask(conn.db, a.id, { state: 'running', updatedAt: 2_000 })).toMatchObject({
      state: 'running',
      updatedAt: 2_000,
    });
    expect(listRunningTaskTimings(conn.db).map((t) => t.id)).toEqual([a.id]);
    expect(deleteTask(conn.db, 'g3', 'daily')).toBe(false);
    expect(deleteTask(conn.db, 'g1', 'daily')).toBe(true);
    expect(getTask(conn.db, 'g2', 'daily')).toBeDefined();
  });

  it(`keeps the last ${RUNS_KEPT_PER_TASK} runs of each task, pruned every ${RUNS_PRUNED_EVERY}th run that counts`, () => {
    const a = insertTask(conn.db, taskValues()).id;
    const b = insertTask(conn.db, taskValues({ name: 'other' })).id;
    for (let i = 0; i < 150; i++) recordIterations(conn.db, [finished(a, i)]);
    recordIterations(conn.db, [{ ...finished(b, 0), outcome: 'error', error: 'x' }]);
    // Pruned last with count 145 (145 % 8 = 1), then five more runs: at most 7 above the hundred.
    expect(runCount(a)).toBe(RUNS_KEPT_PER_TASK + 5);
    expect(runCount(b)).toBe(1);
    const newest = lastRuns(conn.db, a, RUNS_KEPT_PER_TASK + 5);
    expect(newest[0]?.scheduledAt).toBe(149);
    expect(newest.at(-1)?.scheduledAt).toBe(45);
    for (let i = 150; i < 160; i++) recordIterations(conn.db, [finished(a, i)]);
    expect(runCount(a)).toBe(RUNS_KEPT_PER_TASK + 7); // pruned with count 153, then 154-160
  });

  it('prunes with every run that does not count (errors, retries), and with the first after a restart', () => {
    const a = insertTask(conn.db, taskValues()).id;
    for (let i = 0; i < 110; i++) recordIterations(conn.db, [finished(a, i)]); // counts 1-110: pruned at 105
    expect(runCount(a)).toBe(RUNS_KEPT_PER_TASK + 5);
    const failed = {
      ...finished(a, 110),
      outcome: 'error' as const,
      error: 'x',
      lastRunAt: null,
      currentLoop: 110,
    };
    recordIterations(conn.db, [failed]);
    expect(runCount(a)).toBe(RUNS_KEPT_PER_TASK);
    for (let i = 113; i < 116; i++) recordIterations(conn.db, [finished(a, i)]); // counts 114-116
    expect(runCount(a)).toBe(RUNS_KEPT_PER_TASK + 3);
    // A restart from zero: the next run counts 1, and prunes.
    recordIterations(conn.db, [{ ...finished(a, 116), currentLoop: 1 }]);
    expect(runCount(a)).toBe(RUNS_KEPT_PER_TASK);
  });

  it('records a batch of iterations in one go and prunes there too', () => {
    const a = insertTask(conn.db, taskValues()).id;
    for (let i = 0; i < 120; i++) {
      recordIterations(conn.db, [
        {
          taskId: a,
          scheduledAt: i,
          startedAt: i,
          finishedAt: i + 1,
          outcome: 'ok',
          error: null,
          currentLoop: i + 1,
          lastRunAt: i,
          nextRunAt: i + 60,
          lastError: null,
          settlesSlot: true,
        },
        // A task deleted meanwhile is skipped, not a foreign-key failure.
        {
          taskId: 9999,
          scheduledAt: i,
          startedAt: i,
          finishedAt: i,
          outcome: 'ok',
          error: null,
          currentLoop: 1,
          lastRunAt: i,
          nextRunAt: null,
          lastError: null,
          settlesSlot: true,
        },
      ]);
    }
    expect(runCount(a)).toBe(RUNS_KEPT_PER_TASK + 7); // counts 1-120: pruned last at 113
    expect(runCount(9999)).toBe(0);
    expect(getTask(conn.db, 'g1', 'daily')).toMatchObject({
      currentLoop: 120,
      lastRunAt: 119,
      nextRunAt: 179,
    });
  });

  it('lists running tasks timings, the same columns as the whole row, with schedules parsed once', () => {
    const a = insertTask(conn.db, taskValues({ state: 'running', lastRunAt: 5, nextRunAt: 65, count: 3 }));
    const b = insertTask(
      conn.db,
      taskValues({ name: 'b', state: 'running', catchUp: 'once', lastError: 'x' }),
    );
    insertTask(conn.db, taskValues({ name: 'c', state: 'stopped' }));
    const timings = listRunningTaskTimings(conn.db);
    expect(timings.map((t) => t.id)).toEqual([a.id, b.id]);
    // Every timing column holds what the whole row holds.
    expect(a).toMatchObject(timings[0]!);
    expect(b).toMatchObject(timings[1]!);
    expect(timings[0]?.schedule).toBe(timings[1]?.schedule);
    expect(Object.isFrozen(timings[0]?.schedule)).toBe(true);
  });

  it('lists running tasks timings a page at a time, in id order', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'].map(
      (name) => insertTask(conn.db, taskValues({ name, state: name === 'c' ? 'stopped' : 'running' })).id,
    );
    const pageIds = (afterId: number) =>
      listRunningTaskTimings(conn.db, { afterId, limit: 2 }).map((t) => t.id);
    expect(pageIds(0)).toEqual([ids[0], ids[1]]);
    expect(pageIds(ids[1]!)).toEqual([ids[3], ids[4]]);
    expect(pageIds(ids[4]!)).toEqual([]);
  });

  it('sets next run instants in bulk', () => {
    const a = insertTask(conn.db, taskValues()).id;
    const b = insertTask(conn.db, taskValues({ name: 'b' })).id;
    setNextRuns(
      conn.db,
      [
        { id: a, nextRunAt: 10 },
        { id: b, nextRunAt: null },
        { id: 999, nextRunAt: 1 },
      ],
      7,
    );
    expect(getTaskById(conn.db, a)).toMatchObject({ nextRunAt: 10, updatedAt: 7 });
    expect(getTaskById(conn.db, b)).toMatchObject({ nextRunAt: null, updatedAt: 7 });
  });

  it('records a batch all or nothing: a failing run leaves no progress behind', () => {
    const a = insertTask(conn.db, taskValues()).id;
    const progress = { currentLoop: 1, lastRunAt: 1, nextRunAt: 61, lastError: null, settlesSlot: true };
    const good = {
      taskId: a,
      scheduledAt: 1,
      startedAt: 1,
      finishedAt: 2,
      outcome: 'ok' as const,
      error: null,
    };
    const broken = { ...good, scheduledAt: null as unknown as number }; // NOT NULL fails after the progress write
    expect(() =>
      recordIterations(conn.db, [
        { ...good, ...progress },
        { ...broken, ...progress, currentLoop: 2 },
      ]),
    ).toThrow(/NOT NULL/);
    expect(getTaskById(conn.db, a)).toMatchObject({ currentLoop: 0, lastRunAt: null });
    expect(runCount(a)).toBe(0);
  });

  it('a record with no lastRunAt or lastError keeps the stored ones, so a stale row cannot undo a success', () => {
    const a = insertTask(conn.db, taskValues({ lastRunAt: 5, lastError: 'earlier' })).id;
    const run = { taskId: a, startedAt: 60, finishedAt: 61, nextRunAt: 120, settlesSlot: true };
    recordIterations(conn.db, [
      { ...run, scheduledAt: 60, outcome: 'ok', error: null, currentLoop: 2, lastRunAt: 60, lastError: null },
      {
        ...run,
        scheduledAt: 120,
        outcome: 'retried',
        error: 'boom',
        currentLoop: 2,
        lastRunAt: null,
        lastError: 'boom',
      },
      {
        ...run,
        scheduledAt: 120,
        outcome: 'cancelled',
        error: null,
        currentLoop: 2,
        lastRunAt: null,
        lastError: null,
      },
    ]);
    expect(getTaskById(conn.db, a)).toMatchObject({ currentLoop: 2, lastRunAt: 60, lastError: 'boom' });
  });

  it('writes run intents in a batch: one per task, a retry keeps its first start, a new slot replaces it', () => {
    const a = insertTask(conn.db, taskValues()).id;
    const b = insertTask(conn.db, taskValues({ name: 'b' })).id;
    writeRunIntents(conn.db, [
      { taskId: a, scheduledAt: 60, startedAt: 61, iteration: 1 },
      { taskId: b, scheduledAt: 60, startedAt: 62, iteration: 4 },
      { taskId: 9999, scheduledAt: 60, startedAt: 62, iteration: 0 }, // deleted meanwhile: no row, no error
    ]);
    writeRunIntents(conn.db, [{ taskId: a, scheduledAt: 60, startedAt: 90, iteration: 1 }]); // a retry
    writeRunIntents(conn.db, [{ taskId: b, scheduledAt: 120, startedAt: 121, iteration: 5 }]); // the next slot
    expect(listRunIntents(conn.db)).toEqual([
      { taskId: a, scheduledAt: 60, startedAt: 61, iteration: 1 },
      { taskId: b, scheduledAt: 120, startedAt: 121, iteration: 5 },
    ]);
    clearRunIntent(conn.db, b);
    expect(listRunIntents(conn.db).map((i) => i.taskId)).toEqual([a]);
  });

  it("a record that settles its slot deletes that slot's intent in the same transaction, and only that one", () => {
    const a = insertTask(conn.db, taskValues()).id;
    const b = insertTask(conn.db, taskValues({ name: 'b' })).id;
    writeRunIntents(conn.db, [
      { taskId: a, scheduledAt: 60, startedAt: 60, iteration: 0 },
      { taskId: b, scheduledAt: 120, startedAt: 120, iteration: 1 }, // b's next slot already started
    ]);
    const record = {
      startedAt: 60,
      finishedAt: 61,
      error: null,
      currentLoop: 1,
      lastRunAt: 60,
      nextRunAt: 120,
      lastError: null,
    };
    recordIterations(conn.db, [
      { ...record, taskId: a, scheduledAt: 60, outcome: 'retried', settlesSlot: false },
    ]);
    expect(listRunIntents(conn.db)).toHaveLength(2);
    recordIterations(conn.db, [
      { ...record, taskId: a, scheduledAt: 60, outcome: 'ok', settlesSlot: true },
      { ...record, taskId: b, scheduledAt: 60, outcome: 'ok', settlesSlot: true }, // written late
    ]);
    expect(listRunIntents(conn.db)).toEqual([{ taskId: b, scheduledAt: 120, startedAt: 120, iteration: 1 }]);
    deleteTask(conn.db, 'g1', 'b');
    expect(listRunIntents(conn.db)).toEqual([]);
  });

  it('rolls a transaction back as a whole', () => {
    expect(() =>
      inTransaction(conn.db, () => {
        insertTask(conn.db, taskValues());
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(getTask(conn.db, 'g1', 'daily')).toBeUndefined();
  });

  it('cascades a task deletion to its runs and handler state', () => {
    const id = insertTask(conn.db, taskValues()).id;
    recordIterations(conn.db, [finished(id, 1)]);
    setHandlerState(conn.db, id, 'k', { a: 1 });
    saveCounterState(conn.db, { taskId: id, renderedText: 'Members: 3' });
    saveLeaderboardState(conn.db, { taskId: id, messageId: 'm1' });
    deleteTask(conn.db, 'g1', 'daily');
    for (const table of ['task_runs', 'handler_state', 'counter_state', 'leaderboard_state']) {
      expect(conn.sqlite.prepare(`SELECT count(*) FROM ${table}`).pluck().get()).toBe(0);
    }
  });

  it('stores handler state, counter and leaderboard state with partial updates', () => {
    const id = insertTask(conn.db, taskValues()).id;
    expect(getHandlerState(conn.db, id, 'k')).toBeUndefined();
    setHandlerState(conn.db, id, 'k', { list: [1, 2] });
    setHandlerState(conn.db, id, 'k', { list: [3] });
    expect(getHandlerState(conn.db, id, 'k')).toEqual({ list: [3] });

    saveCounterState(conn.db, { taskId: id, renderedText: 'Members: 3', renameTimes: [10, 20] });
    saveCounterState(conn.db, { taskId: id, pendingText: 'Members: 4' });
    expect(getCounterState(conn.db, id)).toEqual({
      taskId: id,
      renderedText: 'Members: 3',
      messageId: null,
      renameTimes: [10, 20],
      pendingText: 'Members: 4',
    });

    saveLeaderboardState(conn.db, { taskId: id, channelId: 'c1', messageId: 'm1' });
    saveLeaderboardState(conn.db, { taskId: id, messageId: 'm2' });
    expect(getLeaderboardState(conn.db, id)).toEqual({ taskId: id, channelId: 'c1', messageId: 'm2' });
  });

  it('counts messages per day and ranks members over a period', async () => {
    const day1 = utcDay(Date.UTC(2024, 0, 1, 23, 59));
    const day2 = utcDay(Date.UTC(2024, 0, 2, 0, 1));
    expect([day1, day2]).toEqual(['2024-01-01', '2024-01-02']);
    const count = (guildId: string, userId: string, day: string, by = 1) => ({ guildId, userId, day, by });
    recordMessageBatch(
      conn.db,
      {
        counts: [count('g1', 'alice', day1, 5), count('g1', 'bob', day2), count('g2', 'mallory', day2, 100)],
        names: [{ guildId: 'g1', userId: 'alice', displayName: 'Alice' }],
      },
      1,
    );
    recordMessageBatch(
      conn.db,
      {
        counts: [count('g1', 'bob', day2), count('g1', 'carol', day2)],
        names: [{ guildId: 'g1', userId: 'alice', displayName: 'Alice B.' }],
      },
      2,
    );

    expect(await rankMembersByMessages(conn.db, 'g1', { limit: 2 })).toEqual([
      { userId: 'alice', displayName: 'Alice B.', count: 5 },
      { userId: 'bob', displayName: null, count: 2 },
    ]);
    const fromDay2 = await rankMembersByMessages(conn.db, 'g1', { fromDay: day2, limit: 10 });
    expect(fromDay2.map((r) => r.userId)).toEqual(['bob', 'carol']);
  });

  it('breaks ties by user id in numeric order, not text order', async () => {
    const day = '2024-01-01';
    // As text, '1000…' (19 digits) sorts before '99…' (17 digits); as snowflakes it is the other way round.
    const counts = ['1000000000000000000', '99999999999999999', '123456789012345678'].map((userId) => ({
      guildId: 'g1',
      userId,
      day,
      by: 3,
    }));
    recordMessageBatch(conn.db, { counts, names: [] }, 1);
    for (const period of [{ limit: 10 }, { fromDay: day, limit: 10 }]) {
      expect((await rankMembersByMessages(conn.db, 'g1', period)).map((r) => r.userId)).toEqual([
        '99999999999999999',
        '123456789012345678',
        '1000000000000000000',
      ]);
    }
  });

  it('stores meta values', () => {
    expect(getMeta(conn.db, 'commands-hash')).toBeUndefined();
    setMeta(conn.db, 'commands-hash', 'abc');
    setMeta(conn.db, 'commands-hash', 'def');
    expect(getMeta(conn.db, 'commands-hash')).toBe('def');
  });

  it('lists meta keys by exact prefix, sorted, and deletes one', () => {
    setMeta(conn.db, 'commands:guild:2', 'b');
    setMeta(conn.db, 'commands:guild:1', 'a');
    setMeta(conn.db, 'commands:global', 'g');
    // `_` is a LIKE wildcard: a prefix holding one must not match keys that merely fit the pattern.
    setMeta(conn.db, 'a_b:1', 'x');
    setMeta(conn.db, 'axb:1', 'y');
    expect(metaKeysStartingWith(conn.db, 'commands:guild:')).toEqual([
      'commands:guild:1',
      'commands:guild:2',
    ]);
    expect(metaKeysStartingWith(conn.db, 'a_b:')).toEqual(['a_b:1']);
    deleteMeta(conn.db, 'commands:guild:1');
    expect(getMeta(conn.db, 'commands:guild:1')).toBeUndefined();
    expect(metaKeysStartingWith(conn.db, 'commands:')).toEqual(['commands:global', 'commands:guild:2']);
  });
});
