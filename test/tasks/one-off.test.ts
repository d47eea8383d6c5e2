// One-off tasks (schedule kind `once`) in the runtime: they run once and complete, survive restarts, and a
// time missed while the bot was down follows the task's catch-up policy. Plus the runtime's own gate.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type DatabaseConnection, lastRuns, openDatabase } from '../../src/db/index.js';
import { TaskRuntime } from '../../src/tasks/index.js';
import { useTempDir } from '../db/helpers.js';
import { definition, MINUTE, recordingExecutor, useRestartableRuntime } from './helpers.js';

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const HOUR = 60 * MINUTE;

describe('one-off tasks', () => {
  const execute = recordingExecutor();
  const bot = useRestartableRuntime(T0, execute);
  let runtime: TaskRuntime;
  let conn: { db: ReturnType<typeof bot.db> };
  beforeEach(() => {
    execute.calls.length = 0;
    runtime = bot.runtime();
    conn = { db: bot.db() };
  });
  async function restartAfter(downtimeMs: number) {
    const summary = await bot.restartAfter(downtimeMs);
    runtime = bot.runtime();
    conn = { db: bot.db() };
    return summary;
  }
  const once = (atMs: number) => ({ kind: 'once' as const, at: atMs, timeZone: 'Europe/Paris' });

  it('runs once at its time, then is completed', async () => {
    const task = await runtime.create('g1', definition({ schedule: once(T0 + HOUR) }));
    expect(task).toMatchObject({ state: 'running', nextRunAt: T0 + HOUR });
    await vi.advanceTimersByTimeAsync(HOUR - 1);
    expect(execute.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(execute.calls.map((c) => c.scheduledAt)).toEqual([T0 + HOUR]);
    await vi.advanceTimersByTimeAsync(24 * HOUR);
    expect(execute.calls).toHaveLength(1);
    expect(runtime.info('g1', 'ping').task).toMatchObject({
      state: 'completed',
      currentLoop: 1,
      nextRunAt: null,
      lastRunAt: T0 + HOUR,
    });
  });

  it('survives a restart before its time and runs once, on time', async () => {
    await runtime.create('g1', definition({ schedule: once(T0 + HOUR) }));
    await restartAfter(10 * MINUTE);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(execute.calls.map((c) => c.scheduledAt)).toEqual([T0 + HOUR]);
    expect(runtime.info('g1', 'ping').task.state).toBe('completed');
  });

  it('missed while down with catch-up skip: not run, recorded as missed, and completed', async () => {
    await runtime.create('g1', definition({ schedule: once(T0 + HOUR) }));
    const summary = await restartAfter(3 * HOUR);
    expect(summary.resumed).toBe(0);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(execute.calls).toHaveLength(0);
    const { task, runs } = runtime.info('g1', 'ping');
    expect(task).toMatchObject({ state: 'completed', currentLoop: 0, nextRunAt: null });
    expect(runs).toMatchObject([{ outcome: 'missed', scheduledAt: T0 + HOUR }]);
  });

  it('missed while down with catch-up once: runs late, once, then completes', async () => {
    await runtime.create('g1', definition({ schedule: once(T0 + HOUR), catchUp: 'once' }));
    const summary = await restartAfter(3 * HOUR);
    expect(summary).toMatchObject({ resumed: 1, caughtUp: 1 });
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(execute.calls.map((c) => c.scheduledAt)).toEqual([T0 + HOUR]);
    expect(runtime.info('g1', 'ping').task).toMatchObject({ state: 'completed', currentLoop: 1 });
  });

  it('missed by a clock jump forward with catch-up skip: recorded as missed, completed, never run', async () => {
    await runtime.create('g1', definition({ schedule: once(T0 + HOUR) }));
    vi.setSystemTime(T0 + 5 * HOUR); // the wall clock jumps past the time while the bot is up
    await vi.advanceTimersByTimeAsync(MINUTE);
    await vi.advanceTimersByTimeAsync(0);
    expect(execute.calls).toHaveLength(0);
    const { task } = runtime.info('g1', 'ping');
    expect(task).toMatchObject({ state: 'completed', nextRunAt: null });
    expect(lastRuns(conn.db, task.id, 5)).toMatchObject([{ outcome: 'missed', scheduledAt: T0 + HOUR }]);
  });

  it('refuses a time already past, and any schedule the surface would refuse', async () => {
    await expect(runtime.create('g1', definition({ schedule: once(T0 - 1) }))).rejects.toMatchObject({
      code: 'invalid_schedule',
      message: expect.stringMatching(/already passed/),
    });
    await expect(
      runtime.create('g1', definition({ schedule: { kind: 'interval', seconds: 0.001 } })),
    ).rejects.toMatchObject({ message: expect.stringMatching(/at most every 10 seconds/) });
    await runtime.create('g1', definition());
    await expect(
      runtime.updateSchedule('g1', 'ping', { kind: 'cron', cron: '* * * * * *', timeZone: 'UTC' }),
    ).rejects.toMatchObject({ code: 'invalid_schedule' });
    expect(runtime.list('g1')).toHaveLength(1);
  });
});

describe('createAll: several tasks, all or none', () => {
  const tempDbPath = useTempDir();
  let conn: DatabaseConnection;
  let runtime: TaskRuntime;
  const execute = recordingExecutor();

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    conn = openDatabase(tempDbPath());
    runtime = new TaskRuntime({ db: conn.db, execute, maxTasksPerGuild: 3 });
  });
  afterEach(async () => {
    const done = runtime.shutdown(0);
    await vi.advanceTimersByTimeAsync(1_000);
    await done;
    conn.close();
    vi.useRealTimers();
  });

  it('creates every task, running or stopped as asked', async () => {
    const tasks = await runtime.createAll('g1', [
      definition({ name: 'a' }),
      definition({ name: 'b', start: false }),
    ]);
    expect(tasks.map((t) => [t.name, t.state])).toEqual([
      ['a', 'running'],
      ['b', 'stopped'],
    ]);
    expect(runtime.list('g1').map((t) => t.name)).toEqual(['a', 'b']);
  });

  it.each([
    ['an invalid definition', [definition({ name: 'a' }), definition({ name: 'B' })], /^B: /],
    ['a name given twice', [definition({ name: 'a' }), definition({ name: 'a' })], /more than one task/],
    [
      'a name already taken',
      [definition({ name: 'a' }), definition({ name: 'taken' })],
      /^taken: .*already has/,
    ],
    [
      'the server limit',
      [definition({ name: 'a' }), definition({ name: 'b' }), definition({ name: 'c' })],
      /most Metronome allows/,
    ],
    ['a bad schedule', [definition({ name: 'a', schedule: { kind: 'interval', seconds: 1 } })], /^a: /],
  ])('creates none on %s', async (_what, defs, message) => {
    await runtime.create('g1', definition({ name: 'taken' }));
    await expect(runtime.createAll('g1', defs)).rejects.toThrow(message);
    expect(runtime.list('g1').map((t) => t.name)).toEqual(['taken']);
  });
});
