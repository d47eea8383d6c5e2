// Between runs a running task is parked: its slot and id in a compact queue, no Loop (issue 11). These tests
// hold the engine's guarantees for parked tasks: never before the slot, no slot twice, wall-clock steps both
// ways, and commands on a parked task that leave no stale wake behind.
import { describe, expect, it, vi } from 'vitest';
import { getTaskById } from '../../src/db/index.js';
import { WALL_CHECK_MS } from '../../src/loop/timer-queue.js';
import { WAKE_CHUNK } from '../../src/tasks/parking.js';
import {
  definition,
  MINUTE,
  recordingExecutor,
  runningTasks,
  useRestartableRuntime,
  useRuntimeOnFakeClock,
} from './helpers.js';

const T0 = Date.UTC(2025, 5, 2, 12, 0, 0);
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const AT_0830 = Date.UTC(2025, 5, 2, 8, 30);
const NINE = Date.UTC(2025, 5, 2, 9, 0);
const daily = (time: string) => ({ kind: 'times' as const, times: [time], timeZone: 'UTC' });

/** Every call ran at or after its slot, and no slot (so no nonce) came twice. */
function expectNeverEarlyNorTwice(calls: { scheduledAt: number; calledAt: number; nonce: string }[]) {
  for (const call of calls) expect(call.calledAt).toBeGreaterThanOrEqual(call.scheduledAt);
  expect(new Set(calls.map((call) => call.nonce)).size).toBe(calls.length);
}

describe('a parked task (interval)', () => {
  const harness = useRuntimeOnFakeClock(T0);

  it('holds no Loop between runs, and runs on its grid at its slots', async () => {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(0);
    expect(execute.calls).toHaveLength(1);
    expect({ live: runtime.liveLoopCount, parked: runtime.parkedCount }).toEqual({
      live: 0,
      parked: 1,
    });
    await vi.advanceTimersByTimeAsync(3 * MINUTE);
    expect(execute.calls.map((c) => [c.iteration, c.scheduledAt - T0, c.calledAt - T0])).toEqual([
      [0, 0, 0],
      [1, MINUTE, MINUTE],
      [2, 2 * MINUTE, 2 * MINUTE],
      [3, 3 * MINUTE, 3 * MINUTE],
    ]);
    expect(runtime.liveLoopCount).toBe(0);
    runtime.flush();
    expect(runtime.info('g1', 'ping').task).toMatchObject({ currentLoop: 4, nextRunAt: T0 + 4 * MINUTE });
  });

  it('is not delayed by the wall clock stepping back, and repeats no slot', async () => {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(30_000);
    vi.setSystemTime(Date.now() - HOUR); // the wall clock alone steps back an hour
    await vi.advanceTimersByTimeAsync(30_000);
    // Due after 60 s of monotonic time, which has passed: it ran, at wall time T0 − 1 h + 60 s.
    expect(execute.calls.map((c) => c.calledAt - T0)).toEqual([0, MINUTE - HOUR]);
    await vi.advanceTimersByTimeAsync(2 * MINUTE);
    // The grid moved back by the step less a millisecond: moved by whole intervals, its slots would repeat.
    expect(execute.calls.map((c) => c.scheduledAt - T0)).toEqual([
      0,
      MINUTE - HOUR - 1,
      2 * MINUTE - HOUR - 1,
      3 * MINUTE - HOUR - 1,
    ]);
    expectNeverEarlyNorTwice(execute.calls);
    expect(execute.calls[1]!.scheduledAt).not.toBe(execute.calls[0]!.scheduledAt);
  });

  it('moves its grid with the wall clock stepping forward, and runs on time', async () => {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(30_000);
    vi.setSystemTime(Date.now() + HOUR);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(execute.calls.map((c) => c.calledAt - T0)).toEqual([0, MINUTE + HOUR]);
    const moved = execute.calls[1]!;
    expect(moved.calledAt - moved.scheduledAt).toBeLessThanOrEqual(1); // a slot of the moved grid, not a late one
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(execute.calls[2]!.scheduledAt - moved.scheduledAt).toBe(MINUTE);
    expectNeverEarlyNorTwice(execute.calls);
  });
});

describe('a parked task (time of day)', () => {
  const harness = useRuntimeOnFakeClock(AT_0830);

  it('waits for its wall-clock slot when the clock steps back, and runs once at it', async () => {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    await runtime.create('g1', definition({ schedule: daily('09:00') }));
    expect(runtime.liveLoopCount).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * MINUTE); // 08:40
    vi.setSystemTime(Date.now() - HOUR); // 07:40
    await vi.advanceTimersByTimeAsync(20 * MINUTE + WALL_CHECK_MS); // 08:00 and a bit on the wall
    expect(execute.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(execute.calls.map((c) => [c.scheduledAt, c.calledAt])).toEqual([[NINE, NINE]]);
  });

  it('runs at its slot, not later, when the clock steps forward to just before it', async () => {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    await runtime.create('g1', definition({ schedule: daily('09:00') }));
    await vi.advanceTimersByTimeAsync(10 * MINUTE); // 08:40
    vi.setSystemTime(Date.UTC(2025, 5, 2, 8, 55));
    await vi.advanceTimersByTimeAsync(5 * MINUTE + WALL_CHECK_MS);
    expect(execute.calls).toHaveLength(1);
    // Seen within WALL_CHECK_MS of the step, so at most that late; never early.
    expect(execute.calls[0]!.scheduledAt).toBe(NINE);
    expect(execute.calls[0]!.calledAt - NINE).toBeLessThanOrEqual(WALL_CHECK_MS);
    expect(execute.calls[0]!.calledAt).toBeGreaterThanOrEqual(NINE);
  });

  it('stop, start, restart, a new schedule and delete leave no stale wake behind', async () => {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    await runtime.create('g1', definition({ schedule: daily('09:00') }));
    await runtime.stop('g1', 'ping');
    expect(runningTasks(runtime)).toBe(0);
    await runtime.start('g1', 'ping'); // parked for the same 09:00 as before the stop
    await vi.advanceTimersByTimeAsync(31 * MINUTE); // 09:01
    expect(execute.calls.map((c) => c.scheduledAt)).toEqual([NINE]);

    await runtime.restart('g1', 'ping'); // from zero, parked for tomorrow 09:00, where it already was
    await vi.advanceTimersByTimeAsync(DAY);
    expect(execute.calls.map((c) => [c.iteration, c.scheduledAt])).toEqual([
      [0, NINE],
      [0, NINE + DAY],
    ]);

    const moved = await runtime.updateSchedule('g1', 'ping', daily('10:00')); // at 09:01, parked for tomorrow
    expect(moved.nextRunAt).toBe(NINE + DAY + HOUR);
    await vi.advanceTimersByTimeAsync(DAY);
    expect(execute.calls.map((c) => c.scheduledAt).slice(2)).toEqual([NINE + DAY + HOUR]);

    await runtime.cancel('g1', 'ping');
    await vi.advanceTimersByTimeAsync(2 * DAY);
    expect(execute.calls).toHaveLength(3);
    await runtime.start('g1', 'ping');
    await runtime.delete('g1', 'ping');
    await vi.advanceTimersByTimeAsync(2 * DAY);
    expect(execute.calls).toHaveLength(3);
    expect(runningTasks(runtime)).toBe(0);
  });

  it('an edit that ends a parked task (its count reached) unparks it', async () => {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    await runtime.create('g1', definition({ schedule: daily('09:00'), count: 5 }));
    await vi.advanceTimersByTimeAsync(2 * DAY);
    expect(execute.calls).toHaveLength(2);
    const checks = {
      options: (options: unknown) => options as Record<string, unknown>,
      channel: async () => undefined,
    };
    const edited = await runtime.edit('g1', 'ping', { count: 2 }, checks);
    expect(edited.task).toMatchObject({ state: 'completed', nextRunAt: null });
    expect(runningTasks(runtime)).toBe(0);
    await vi.advanceTimersByTimeAsync(2 * DAY);
    expect(execute.calls).toHaveLength(2);
  });

  it('a stored schedule the engine refuses, found at the wake, fails that task with its reason', async () => {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    const task = await runtime.create('g1', definition({ schedule: daily('09:00') }));
    // As a hand edit of the database (or an older version) might leave it while the task waits.
    harness
      .db()
      .$client.prepare('UPDATE tasks SET schedule = ? WHERE id = ?')
      .run(JSON.stringify({ kind: 'cron', cron: '61 * * * *', timeZone: 'UTC' }), task.id);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(execute.calls).toEqual([]);
    expect(getTaskById(harness.db(), task.id)).toMatchObject({
      state: 'failed',
      nextRunAt: null,
      lastError: expect.stringMatching(/61/),
    });
    expect(runningTasks(runtime)).toBe(0);
  });

  it('a task deleted behind the runtime while parked wakes to nothing', async () => {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    const task = await runtime.create('g1', definition({ schedule: daily('09:00') }));
    harness.db().$client.prepare('DELETE FROM tasks WHERE id = ?').run(task.id);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(execute.calls).toEqual([]);
    expect(runningTasks(runtime)).toBe(0);
  });

  it('tasks due at one instant wake in chunks read together: each runs once, past one deleted meanwhile', async () => {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    const count = 2 * WAKE_CHUNK + 3; // two full chunks and a short one
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      ids.push((await runtime.create('g1', definition({ name: `t${i}`, schedule: daily('09:00') }))).id);
    }
    expect(runtime.parkedCount).toBe(count);
    // One row of the first chunk and one of the last disappear behind the runtime; their neighbours still run.
    const sqlite = harness.db().$client;
    for (const id of [ids[1]!, ids.at(-1)!]) sqlite.prepare('DELETE FROM tasks WHERE id = ?').run(id);
    await vi.advanceTimersByTimeAsync(NINE - AT_0830 + 1_000);
    const names = execute.calls.map((call) => call.taskName).sort();
    const expected = ids.map((_, i) => `t${i}`).filter((name) => name !== 't1' && name !== `t${count - 1}`);
    expect(names).toEqual(expected.sort());
    expect(execute.calls.every((call) => call.scheduledAt === NINE)).toBe(true);
    expectNeverEarlyNorTwice(execute.calls);
    await vi.advanceTimersByTimeAsync(DAY);
    expect(execute.calls).toHaveLength(2 * expected.length);
  });

  it('a row that cannot be read at the wake is read again a second later, and its slot runs as it was', async () => {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    await runtime.create('g1', definition({ schedule: daily('09:00') }));
    const sqlite = harness.db().$client;
    await vi.advanceTimersByTimeAsync(NINE - AT_0830 - 1);
    sqlite.exec('ALTER TABLE tasks RENAME TO tasks_away'); // every read of tasks now throws
    await vi.advanceTimersByTimeAsync(1);
    expect(execute.calls).toEqual([]);
    expect(runningTasks(runtime)).toBe(1); // still ours, waiting to be read
    await vi.advanceTimersByTimeAsync(2_500);
    expect(execute.calls).toEqual([]);
    sqlite.exec('ALTER TABLE tasks_away RENAME TO tasks');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(execute.calls.map((c) => c.scheduledAt)).toEqual([NINE]);
    expect(execute.calls[0]!.calledAt).toBeGreaterThan(NINE);
  });
});

describe('parked tasks across a restart', () => {
  const execute = recordingExecutor();
  const bot = useRestartableRuntime(T0, execute);

  it('need nothing at shutdown: nothing wakes after it, rows stay running, and the next start parks them again', async () => {
    execute.calls.length = 0;
    const runtime = bot.runtime();
    for (const name of ['a', 'b', 'c']) {
      await runtime.create('g1', definition({ name, schedule: { kind: 'interval', seconds: 600 } }));
    }
    await vi.advanceTimersByTimeAsync(0);
    expect(runtime.parkedCount).toBe(3);
    await bot.stopBot();
    await vi.advanceTimersByTimeAsync(20 * MINUTE); // the old runtime's parked slots pass: none of them runs
    expect(execute.calls.map((c) => c.taskName)).toEqual(['a', 'b', 'c']);
    bot.boot();
    const summary = bot.runtime().resumeAll();
    expect(summary).toMatchObject({ resumed: 3, failed: 0 });
    // Their 10-minute slots passed while down (catch-up skip): each waits, parked, for its next one.
    expect({ live: bot.runtime().liveLoopCount, parked: bot.runtime().parkedCount }).toEqual({
      live: 0,
      parked: 3,
    });
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(execute.calls.map((c) => c.taskName)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expectNeverEarlyNorTwice(execute.calls);
  });

  it('resumeAll writes the next runs it moved once it has returned; a listing shows them at once', async () => {
    const runtime = bot.runtime();
    const task = await runtime.create(
      'g1',
      definition({ name: 'moved', schedule: { kind: 'interval', seconds: 600 } }),
    );
    await vi.advanceTimersByTimeAsync(0);
    await bot.restartAfter(25 * MINUTE); // the 10- and 20-minute slots pass while down
    expect(bot.runtime().list('g1')[0]).toMatchObject({ name: 'moved', nextRunAt: T0 + 30 * MINUTE });
    expect(getTaskById(bot.db(), task.id)?.nextRunAt).toBe(T0 + 30 * MINUTE);
  });

  it('a moved next run written late never replaces one a command wrote meanwhile', async () => {
    const runtime = bot.runtime();
    const task = await runtime.create(
      'g1',
      definition({ name: 'moved', schedule: { kind: 'interval', seconds: 600 } }),
    );
    await vi.advanceTimersByTimeAsync(0);
    await bot.restartAfter(25 * MINUTE);
    // Before the next turn writes the moved next run (T0 + 30 min), a new schedule takes the task over.
    const updated = await bot.runtime().updateSchedule('g1', 'moved', daily('13:00'));
    expect(updated.nextRunAt).toBe(Date.UTC(2025, 5, 2, 13, 0));
    await vi.advanceTimersByTimeAsync(0);
    expect(getTaskById(bot.db(), task.id)?.nextRunAt).toBe(Date.UTC(2025, 5, 2, 13, 0));
  });

  it('a second resumeAll leaves parked tasks alone', async () => {
    execute.calls.length = 0;
    const runtime = bot.runtime();
    await runtime.create('g1', definition({ name: 'solo', schedule: { kind: 'interval', seconds: 600 } }));
    await vi.advanceTimersByTimeAsync(0);
    expect(runtime.resumeAll()).toMatchObject({ resumed: 0 });
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(execute.calls.map((c) => c.scheduledAt - T0)).toEqual([0, 10 * MINUTE]);
  });
});
