import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type DatabaseConnection,
  getTaskById,
  insertTask,
  lastRuns,
  openDatabase,
} from '../../src/db/index.js';
import { createLogger } from '../../src/log.js';
import { Loop } from '../../src/loop/index.js';
import {
  RUN_RETRY_WINDOW_MINUTES,
  runNonce,
  type TaskErrorCode,
  TaskRuntime,
} from '../../src/tasks/index.js';
import { useTempDir } from '../db/helpers.js';
import { definition, MINUTE, recordingExecutor, runningTasks } from './helpers.js';

const T0 = Date.UTC(2025, 5, 2, 12, 0, 0);

function expectTaskError(promise: Promise<unknown>, code: TaskErrorCode, message: RegExp) {
  return expect(promise).rejects.toMatchObject({
    name: 'TaskError',
    code,
    message: expect.stringMatching(message),
  });
}

describe('TaskRuntime', () => {
  const tempDbPath = useTempDir();
  let conn: DatabaseConnection;
  let runtime: TaskRuntime | undefined;

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    conn = openDatabase(tempDbPath());
  });
  afterEach(async () => {
    const shutdown = runtime?.shutdown(0);
    await vi.advanceTimersByTimeAsync(0); // the zero grace period ends; anything still in flight is aborted
    await shutdown;
    runtime = undefined;
    conn.close();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  function start(execute = recordingExecutor()) {
    const logs: { msg: string; level: number }[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
        done();
      },
    });
    runtime = new TaskRuntime({ db: conn.db, execute, log: createLogger({ level: 'info', destination }) });
    return { runtime, execute, logs };
  }

  it('creates a running task that fires on its grid and records every run with its nonce', async () => {
    const { runtime, execute } = start();
    const task = await runtime.create('g1', definition());
    expect(task).toMatchObject({ state: 'running', currentLoop: 0, nextRunAt: T0 });

    await vi.advanceTimersByTimeAsync(2 * MINUTE + 1_000);
    expect(execute.calls.map((c) => [c.iteration, c.scheduledAt - T0])).toEqual([
      [0, 0],
      [1, MINUTE],
      [2, 2 * MINUTE],
    ]);
    expect(execute.calls[1]?.nonce).toBe(runNonce(task.id, T0 + MINUTE));

    const info = runtime.info('g1', 'ping');
    expect(info.task).toMatchObject({
      currentLoop: 3,
      lastRunAt: T0 + 2 * MINUTE,
      nextRunAt: T0 + 3 * MINUTE,
    });
    expect(info.runs.map((r) => [r.outcome, r.scheduledAt - T0])).toEqual([
      ['ok', 2 * MINUTE],
      ['ok', MINUTE],
      ['ok', 0],
    ]);
  });

  it('keeps guilds apart: same names allowed, and no call reaches another guild', async () => {
    const { runtime, execute } = start();
    await runtime.create('g1', definition());
    await runtime.create('g2', definition({ options: { text: 'other' } }));
    expect(runtime.list('g1')).toHaveLength(1);
    expect(runtime.list('g3')).toEqual([]);

    await expectTaskError(runtime.stop('g3', 'ping'), 'not_found', /no task named "ping"/);
    expect(() => runtime.info('g3', 'ping')).toThrow(/no task named/);
    await expectTaskError(runtime.delete('g3', 'ping'), 'not_found', /no task/);

    await runtime.stop('g2', 'ping');
    expect(runtime.info('g1', 'ping').task.state).toBe('running');
    await runtime.delete('g2', 'ping');
    expect(runtime.list('g1').map((t) => t.guildId)).toEqual(['g1']);

    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(new Set(execute.calls.map((c) => c.taskName))).toEqual(new Set(['ping']));
    expect(execute.calls.filter((c) => c.calledAt > T0)).toHaveLength(1); // only g1's task kept running
  });

  it('answers user mistakes with a TaskError sentence, not a crash', async () => {
    const { runtime } = start();
    await expectTaskError(
      runtime.create('g1', definition({ name: 'Bad Name' })),
      'invalid_name',
      /not a valid task name/,
    );
    await expectTaskError(
      runtime.create('g1', definition({ schedule: { kind: 'interval', seconds: -1 } })),
      'invalid_schedule',
      /schedule is not valid/,
    );
    await expectTaskError(runtime.create('g1', definition({ count: 0 })), 'invalid_definition', /count/);
    await expectTaskError(
      runtime.create('g1', definition({ timeoutMs: 0 })),
      'invalid_definition',
      /timeout/,
    );
    // The runtime's floor is the one /task offers: a run gets at least a second.
    await expectTaskError(
      runtime.create('g1', definition({ timeoutMs: 999 })),
      'invalid_definition',
      /between 1 second and 15 minutes/,
    );
    const later = 'later' as 'skip';
    await expectTaskError(
      runtime.create('g1', definition({ catchUp: later })),
      'invalid_definition',
      /catch-up/,
    );
    await runtime.create('g1', definition({ count: 2 }));
    await expectTaskError(
      runtime.create('g1', definition()),
      'name_taken',
      /already has a task named "ping"/,
    );
    await expectTaskError(runtime.start('g1', 'ping'), 'already_running', /already running/);
    await expectTaskError(runtime.start('g1', 'nope'), 'not_found', /no task named "nope"/);

    await vi.advanceTimersByTimeAsync(MINUTE); // the second run completes the task
    expect(runtime.info('g1', 'ping').task.state).toBe('completed');
    await expectTaskError(runtime.start('g1', 'ping'), 'completed', /restart/);
    await expectTaskError(runtime.stop('g1', 'ping'), 'not_running', /not running \(it is completed\)/);

    await runtime.create('g1', definition({ name: 'idle', start: false }));
    await expectTaskError(runtime.stop('g1', 'idle'), 'not_running', /it is stopped/);
    await expectTaskError(runtime.cancel('g1', 'idle'), 'not_running', /not running/);
  });

  it('stop is graceful: the iteration in flight finishes and is recorded, then nothing more runs', async () => {
    const execute = recordingExecutor(() => new Promise((resolve) => setTimeout(resolve, 5_000)));
    const { runtime } = start(execute);
    await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(1_000);
    const stopped = await runtime.stop('g1', 'ping');
    expect(stopped).toMatchObject({ state: 'stopped', nextRunAt: null });

    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(execute.calls).toHaveLength(1);
    expect(execute.calls[0]?.signal.aborted).toBe(false);
    const { task, runs } = runtime.info('g1', 'ping');
    expect(task).toMatchObject({ state: 'stopped', currentLoop: 1 });
    expect(runs.map((r) => r.outcome)).toEqual(['ok']);
  });

  it('cancel is immediate: the handler is aborted and the run recorded as cancelled', async () => {
    const execute = recordingExecutor(() => new Promise(() => {}));
    const { runtime } = start(execute);
    await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(1_000);
    await runtime.cancel('g1', 'ping');
    await vi.advanceTimersByTimeAsync(0);
    expect(execute.calls[0]?.signal.aborted).toBe(true);
    const { task, runs } = runtime.info('g1', 'ping');
    // The cut run had called its handler, so it may have posted: it counts (see cancel-count.test.ts).
    expect(task).toMatchObject({ state: 'cancelled', currentLoop: 1, nextRunAt: null });
    expect(runs.map((r) => r.outcome)).toEqual(['cancelled']);
  });

  it('start continues the count; restart begins again from zero', async () => {
    const { runtime, execute } = start();
    await runtime.create('g1', definition({ count: 5 }));
    await vi.advanceTimersByTimeAsync(MINUTE + 1); // iterations 0 and 1
    await runtime.stop('g1', 'ping');
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect((await runtime.start('g1', 'ping')).currentLoop).toBe(2);
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(execute.calls.map((c) => c.iteration)).toEqual([0, 1, 2, 3, 4]);
    expect(runtime.info('g1', 'ping').task).toMatchObject({
      state: 'completed',
      currentLoop: 5,
      nextRunAt: null,
    });

    expect(await runtime.restart('g1', 'ping')).toMatchObject({ state: 'running', currentLoop: 0 });
    await vi.advanceTimersByTimeAsync(0);
    expect(execute.calls.at(-1)?.iteration).toBe(0);
  });

  it('restart of a running task cancels its run before starting the next', async () => {
    const execute = recordingExecutor(() => new Promise((resolve) => setTimeout(resolve, 30_000)));
    const { runtime } = start(execute);
    await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(1_000);
    await runtime.restart('g1', 'ping');
    await vi.advanceTimersByTimeAsync(1_000);
    // The old handler ignores its signal: the new run never overlaps it, and starts once it settles.
    expect(execute.calls.map((c) => [c.iteration, c.signal.aborted])).toEqual([[0, true]]);
    await vi.advanceTimersByTimeAsync(28_000);
    expect(execute.calls.map((c) => [c.iteration, c.signal.aborted])).toEqual([
      [0, true],
      [0, false],
    ]);
    expect(runningTasks(runtime)).toBe(1);
    expect(runtime.info('g1', 'ping').runs.map((r) => r.outcome)).toEqual(['cancelled']);
  });

  it('a handler error fails the task and keeps the error', async () => {
    const execute = recordingExecutor(async () => {
      throw new Error('Missing Access');
    });
    const { runtime } = start(execute);
    await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(0);
    const { task, runs } = runtime.info('g1', 'ping');
    expect(task).toMatchObject({ state: 'failed', lastError: 'Missing Access', nextRunAt: null });
    expect(runs).toMatchObject([{ outcome: 'error', error: 'Missing Access' }]);
    expect(runningTasks(runtime)).toBe(0);
  });

  it('tells its event stream of each recorded run, with the kind and the timings, ok or not', async () => {
    let fail = false;
    const execute = recordingExecutor(async () => {
      if (fail) throw new Error('Missing Access');
    });
    const { runtime } = start(execute);
    const events: unknown[] = [];
    runtime.events.on('runRecorded', (event) => void events.push(event));
    const task = await runtime.create('g1', definition({ kind: 'counter' }));
    await vi.advanceTimersByTimeAsync(0);
    fail = true;
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(events).toEqual([
      {
        taskId: task.id,
        kind: 'counter',
        outcome: 'ok',
        gaveUp: false,
        scheduledAt: T0,
        startedAt: T0,
        finishedAt: T0,
      },
      {
        taskId: task.id,
        kind: 'counter',
        outcome: 'error',
        gaveUp: false,
        scheduledAt: T0 + MINUTE,
        startedAt: T0 + MINUTE,
        finishedAt: T0 + MINUTE,
      },
    ]);
  });

  it('a hanging task times out, is retried, and never delays another task', async () => {
    // Backoff at its top (1 s): a retry due at a fraction of a ms would let the shared timer queue run a
    // tick due within its early margin (1 ms) in the same turn, and calledAt below is exact.
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const execute = recordingExecutor((task, ctx) =>
      task.name === 'hang' ? new Promise<void>(() => {}) : Promise.resolve(void ctx),
    );
    const { runtime } = start(execute);
    await runtime.create('g1', definition({ name: 'hang', timeoutMs: 5_000 }));
    await runtime.create('g1', definition({ name: 'tick', schedule: { kind: 'interval', seconds: 10 } }));
    await vi.advanceTimersByTimeAsync(10_000);
    const hang = runtime.info('g1', 'hang');
    expect(execute.callsOf('hang')[0]?.signal.aborted).toBe(true);
    // A timeout is a handled error: the slot is retried with backoff (same slot, same nonce), the task runs on.
    expect(hang.task).toMatchObject({
      state: 'running',
      lastError: expect.stringMatching(/longer than 5 s/),
    });
    expect(hang.runs).toMatchObject([{ outcome: 'retried', finishedAt: T0 + 5_000 }]);

    // Meanwhile, and while the hung slot keeps being retried, the other task runs exactly on its slots.
    await vi.advanceTimersByTimeAsync(90_000);
    const ticks = execute.callsOf('tick');
    expect(ticks).toHaveLength(11);
    ticks.forEach((call, i) => {
      expect(call.calledAt).toBe(T0 + i * 10_000);
    });
    expect(runtime.info('g1', 'tick').task.state).toBe('running');
  });

  it('retries a run that hung past its timeout, same slot and nonce, until it succeeds', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1); // backoff at its top: 1 s, then 2 s
    let hangsLeft = 2;
    const execute = recordingExecutor(() =>
      hangsLeft-- > 0 ? new Promise<void>(() => {}) : Promise.resolve(),
    );
    const { runtime } = start(execute);
    const task = await runtime.create('g1', definition({ timeoutMs: 5_000 }));
    await vi.advanceTimersByTimeAsync(20_000);

    expect(execute.calls.map((c) => [c.calledAt - T0, c.scheduledAt - T0, c.nonce])).toEqual([
      [0, 0, runNonce(task.id, T0)],
      [6_000, 0, runNonce(task.id, T0)],
      [13_000, 0, runNonce(task.id, T0)],
    ]);
    const { task: row, runs } = runtime.info('g1', 'ping');
    expect(runs.map((r) => [r.outcome, r.error]).reverse()).toEqual([
      ['retried', expect.stringMatching(/took longer than 5 s and was aborted/)],
      ['retried', expect.stringMatching(/took longer than 5 s and was aborted/)],
      ['ok', null],
    ]);
    expect(row).toMatchObject({
      state: 'running',
      currentLoop: 1,
      lastRunAt: T0,
      nextRunAt: T0 + MINUTE,
      lastError: expect.stringMatching(/longer than 5 s/),
    });
  });

  // Each slot gets 2 minutes of retries (RUN_RETRY_WINDOW_MINUTES), then the task moves on to its next slot.
  it('a handler that always hangs gives each slot 2 min of retries, keeps running, and leaks nothing per attempt', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const execute = recordingExecutor(() => new Promise<void>(() => {}));
    const { runtime } = start(execute);
    await runtime.create('g1', definition({ timeoutMs: 1_000 }));
    await vi.advanceTimersByTimeAsync(60 * MINUTE);
    const timersWhileRetrying = vi.getTimerCount();
    await vi.advanceTimersByTimeAsync(60 * MINUTE);

    const calls = execute.calls;
    const slots = [...new Set(calls.map((c) => c.scheduledAt))];
    expect(slots.length).toBeGreaterThan(20);
    for (const slot of slots) {
      const attempts = calls.filter((c) => c.scheduledAt === slot);
      expect(attempts.at(-1)!.calledAt - attempts[0]!.calledAt).toBeLessThanOrEqual(
        RUN_RETRY_WINDOW_MINUTES * MINUTE,
      );
    }
    // Every abandoned attempt's signal is aborted with the timeout, so nothing the handler hung on it waits.
    for (const call of calls.slice(0, -1)) {
      expect(call.signal.reason).toMatchObject({ name: 'TaskTimeoutError' });
    }
    expect(vi.getTimerCount()).toBe(timersWhileRetrying); // no timer left behind per attempt
    const { task, runs } = runtime.info('g1', 'ping', 100);
    expect(task).toMatchObject({
      state: 'running',
      currentLoop: 0,
      lastError: expect.stringMatching(/^gave up/),
    });
    // The last 100 runs: each slot's retries, then its given-up error run.
    expect(runs.some((r) => r.outcome === 'error')).toBe(true);
    for (const run of runs) {
      if (run.outcome === 'error')
        expect(run.error).toMatch(/^gave up on this run after retrying for 2 minutes/);
      else expect(run.outcome).toBe('retried');
    }
  });

  it('gives up a slot that keeps timing out after 2 minutes, records why, and runs the next slot', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1); // backoff at its top: 1 s, then 2 s
    const execute = recordingExecutor((_task, ctx) =>
      ctx.scheduledAt.getTime() === T0 ? new Promise<void>(() => {}) : Promise.resolve(),
    );
    const { runtime, logs } = start(execute);
    await runtime.create('g1', definition({ schedule: { kind: 'interval', seconds: 3_600 } })); // 60 s timeout
    await vi.advanceTimersByTimeAsync(30 * MINUTE);

    // Attempts at 0 and 61 s; the retry after the second timeout (121 s) would start at 123 s, past 2 min.
    expect(execute.calls.map((c) => [c.calledAt - T0, c.scheduledAt - T0])).toEqual([
      [0, 0],
      [61_000, 0],
    ]);
    const given = runtime.info('g1', 'ping');
    const gaveUp =
      'gave up on this run after retrying for 2 minutes: the iteration took longer than 60 s and was aborted';
    expect(given.runs.map((r) => [r.outcome, r.scheduledAt - T0, r.error]).reverse()).toEqual([
      ['retried', 0, 'the iteration took longer than 60 s and was aborted'],
      ['error', 0, gaveUp],
    ]);
    expect(given.task).toMatchObject({
      state: 'running',
      currentLoop: 0,
      lastRunAt: null,
      nextRunAt: T0 + 60 * MINUTE,
      lastError: gaveUp,
    });
    // The owner reading the logs sees the retry (info) and the lost run (warn, level 40).
    expect(logs.filter((l) => l.msg !== 'task created').map((l) => [l.level, l.msg])).toEqual([
      [30, 'run failed; retrying'],
      [40, 'run given up'],
    ]);

    await vi.advanceTimersByTimeAsync(30 * MINUTE);
    expect(execute.calls.at(-1)).toMatchObject({ iteration: 0, scheduledAt: T0 + 60 * MINUTE });
    expect(runtime.info('g1', 'ping').task).toMatchObject({
      state: 'running',
      currentLoop: 1,
      lastRunAt: T0 + 60 * MINUTE,
      nextRunAt: T0 + 120 * MINUTE,
    });
  });

  it('retries a handler error named AbortError (a Discord request that timed out); the task keeps running', async () => {
    let abortsLeft = 1;
    const execute = recordingExecutor(async () => {
      if (abortsLeft-- > 0) throw new DOMException('This operation was aborted', 'AbortError');
    });
    const { runtime } = start(execute);
    await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(2_000);
    const { task, runs } = runtime.info('g1', 'ping');
    expect(runs.map((r) => [r.outcome, r.error]).reverse()).toEqual([
      ['retried', 'This operation was aborted'],
      ['ok', null],
    ]);
    expect(task).toMatchObject({ state: 'running', currentLoop: 1 });
  });

  it('a cancel during a hung run ends it as cancelled, never retried, even though the handler rethrows an abort', async () => {
    const execute = recordingExecutor(
      (_task, ctx) =>
        new Promise<void>((_, reject) =>
          // As discord.js does: the request is aborted, and the error says nothing of why.
          ctx.signal.addEventListener('abort', () =>
            reject(new DOMException('This operation was aborted', 'AbortError')),
          ),
        ),
    );
    const { runtime } = start(execute);
    await runtime.create('g1', definition({ timeoutMs: 5_000 }));
    await vi.advanceTimersByTimeAsync(2_000);
    await runtime.cancel('g1', 'ping');
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(execute.calls).toHaveLength(1);
    const { task, runs } = runtime.info('g1', 'ping');
    expect(task).toMatchObject({ state: 'cancelled', nextRunAt: null });
    expect(runs.map((r) => r.outcome)).toEqual(['cancelled']);
  });

  it('updateSchedule moves a running task to the new schedule', async () => {
    const { runtime, execute } = start();
    await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(1_000);
    const updated = await runtime.updateSchedule('g1', 'ping', {
      kind: 'times',
      times: ['13:30'],
      timeZone: 'UTC',
    });
    expect(updated).toMatchObject({ schedule: { kind: 'times' }, nextRunAt: Date.UTC(2025, 5, 2, 13, 30) });
    await vi.advanceTimersByTimeAsync(2 * 60 * MINUTE);
    expect(execute.calls.map((c) => c.scheduledAt)).toEqual([T0, Date.UTC(2025, 5, 2, 13, 30)]);
    await expectTaskError(
      runtime.updateSchedule('g1', 'ping', { kind: 'cron', cron: 'every day', timeZone: 'UTC' }),
      'invalid_schedule',
      /not valid/,
    );
  });

  it('start and restart refuse a saved schedule the engine no longer accepts with a sentence, not a RangeError', async () => {
    const { runtime, execute } = start();
    // As an older Metronome might have stored it: the engine now refuses a minute of 61.
    insertTask(conn.db, {
      guildId: 'g1',
      name: 'old',
      kind: 'reminder',
      schedule: { kind: 'cron', cron: '61 * * * *', timeZone: 'UTC' },
      state: 'failed',
      lastError: 'before',
      channelId: 'c',
      createdBy: 'u',
      createdAt: T0,
      updatedAt: T0,
    });
    const sentence = /^Task "old" has a saved schedule .*cron.*; set a new one with \/task interval/;
    await expectTaskError(runtime.start('g1', 'old'), 'invalid_schedule', sentence);
    await expectTaskError(runtime.restart('g1', 'old'), 'invalid_schedule', sentence);
    expect(runtime.info('g1', 'old').task).toMatchObject({
      state: 'failed',
      lastError: 'before',
      nextRunAt: null,
    });
    expect(runningTasks(runtime)).toBe(0);

    await runtime.updateSchedule('g1', 'old', { kind: 'interval', seconds: 60 });
    await expect(runtime.start('g1', 'old')).resolves.toMatchObject({ state: 'running' });
    await vi.advanceTimersByTimeAsync(0);
    expect(execute.callsOf('old')).toHaveLength(1);
  });

  it('refuses a cron that never runs or has other than 5 or 6 fields, at create and at interval', async () => {
    const { runtime } = start();
    const cron = (expression: string) => ({ kind: 'cron' as const, cron: expression, timeZone: 'UTC' });
    await expectTaskError(
      runtime.create('g1', definition({ schedule: cron('0 0 30 2 *') })),
      'invalid_schedule',
      /^That schedule is not valid \(.*"0 0 30 2 \*" never runs.*\)\.$/,
    );
    await expectTaskError(
      runtime.create('g1', definition({ schedule: cron('0 0 0 1 1 * 2030') })),
      'invalid_schedule',
      /"cron" must have 5 fields .* or 6 .*got 7/,
    );
    await expectTaskError(
      runtime.create('g1', definition({ schedule: cron('@hourly') })),
      'invalid_schedule',
      /"cron" must have 5 fields/,
    );
    expect(runtime.list('g1')).toEqual([]);

    const task = await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(0); // iteration 0
    await expectTaskError(
      runtime.updateSchedule('g1', 'ping', cron('0 0 31 4 *')),
      'invalid_schedule',
      /never runs/,
    );
    expect(runtime.info('g1', 'ping').task).toMatchObject({
      schedule: task.schedule,
      nextRunAt: T0 + MINUTE,
      state: 'running',
    });
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(runtime.info('g1', 'ping').task).toMatchObject({ state: 'running', currentLoop: 2 });
  });

  it('updateSchedule writes the row before it changes the loop, and rolls both back if the engine refuses', async () => {
    const { runtime, execute } = start();
    const task = await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(1_000);
    const daily = { kind: 'times' as const, times: ['13:30'], timeZone: 'UTC' };
    const seen: unknown[] = [];
    const changeInterval = vi.spyOn(Loop.prototype, 'changeInterval');
    changeInterval.mockImplementationOnce(() => {
      seen.push(getTaskById(conn.db, task.id)?.schedule);
      throw new RangeError('refused by the engine');
    });
    await expectTaskError(
      runtime.updateSchedule('g1', 'ping', daily),
      'invalid_schedule',
      /^That schedule is not valid \(refused by the engine\)\.$/,
    );
    expect(seen).toEqual([daily]); // the write came first…
    expect(runtime.info('g1', 'ping').task).toMatchObject({
      schedule: task.schedule, // …and rolled back with the refusal
      nextRunAt: T0 + MINUTE,
      state: 'running',
    });
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(execute.calls.map((c) => c.scheduledAt - T0)).toEqual([0, MINUTE]); // the loop kept its grid

    expect(await runtime.updateSchedule('g1', 'ping', daily)).toMatchObject({
      schedule: daily,
      nextRunAt: Date.UTC(2025, 5, 2, 13, 30),
    });
  });

  it('restart commits running before it cancels the old run, so a crash in between still resumes the task', async () => {
    const execute = recordingExecutor(() => new Promise((resolve) => setTimeout(resolve, 30_000)));
    const { runtime } = start(execute);
    const task = await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(3 * MINUTE + 1_000); // iterations 0-2 done, 3 in flight
    const rowAt: Record<string, unknown> = {};
    const read = () => {
      const row = getTaskById(conn.db, task.id);
      return { state: row?.state, currentLoop: row?.currentLoop };
    };
    const originalCancel = Loop.prototype.cancel;
    vi.spyOn(Loop.prototype, 'cancel').mockImplementationOnce(function (this: Loop<never[]>) {
      rowAt.cancel = read();
      this.observe({
        end: () => {
          rowAt.oldRunEnd = read();
        },
      });
      originalCancel.call(this);
    });
    await runtime.restart('g1', 'ping');
    expect(rowAt.cancel).toEqual({ state: 'running', currentLoop: 0 });
    expect(rowAt.oldRunEnd).toMatchObject({ state: 'running' });
    expect(runtime.info('g1', 'ping').task).toMatchObject({ state: 'running', currentLoop: 0 });
  });

  it('stop, cancel and delete commit the row before they touch the loop', async () => {
    const execute = recordingExecutor(() => new Promise((resolve) => setTimeout(resolve, 30_000)));
    const { runtime } = start(execute);
    const ids: Record<string, number> = {};
    for (const name of ['a', 'b', 'c']) ids[name] = (await runtime.create('g1', definition({ name }))).id;
    await vi.advanceTimersByTimeAsync(1_000); // each has an iteration in flight
    const read = (name: string) => {
      const row = getTaskById(conn.db, ids[name]!);
      return row && { state: row.state, nextRunAt: row.nextRunAt };
    };
    const { stop, cancel } = Loop.prototype;
    const atStop: unknown[] = [];
    const atCancel: unknown[] = [];
    vi.spyOn(Loop.prototype, 'stop').mockImplementation(function (this: Loop<never[]>) {
      atStop.push(read('a'));
      stop.call(this);
    });
    vi.spyOn(Loop.prototype, 'cancel').mockImplementation(function (this: Loop<never[]>) {
      atCancel.push([read('b'), read('c')]);
      cancel.call(this);
    });
    await runtime.stop('g1', 'a');
    expect(atStop).toEqual([{ state: 'stopped', nextRunAt: null }]);
    await runtime.cancel('g1', 'b');
    expect(atCancel).toEqual([
      [
        { state: 'cancelled', nextRunAt: null },
        { state: 'running', nextRunAt: T0 },
      ],
    ]);
    await runtime.delete('g1', 'c');
    expect(atCancel[1]).toEqual([{ state: 'cancelled', nextRunAt: null }, undefined]);
  });

  it('caps the tasks of one server (default 100), with a sentence; other servers are not affected', async () => {
    const { runtime } = start();
    for (let i = 0; i < 100; i++) await runtime.create('g1', definition({ name: `t${i}`, start: false }));
    await expectTaskError(
      runtime.create('g1', definition({ name: 'one-more' })),
      'limit_reached',
      /^This server already has 100 tasks, the most Metronome allows; delete one first\.$/,
    );
    expect(runtime.list('g1')).toHaveLength(100);
    await runtime.create('g2', definition());
    await runtime.delete('g1', 't0');
    await runtime.create('g1', definition({ name: 'one-more' }));

    const small = new TaskRuntime({ db: conn.db, execute: recordingExecutor(), maxTasksPerGuild: 1 });
    await expectTaskError(small.create('g2', definition({ name: 'second' })), 'limit_reached', /has 1 tasks/);
    await small.shutdown(0);
    expect(() => new TaskRuntime({ db: conn.db, execute: recordingExecutor(), maxTasksPerGuild: 0 })).toThrow(
      RangeError,
    );
  });

  it('delete aborts the run and removes the task with its history', async () => {
    const execute = recordingExecutor(() => new Promise(() => {}));
    const { runtime } = start(execute);
    const task = await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(1_000);
    await runtime.delete('g1', 'ping');
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(execute.calls[0]?.signal.aborted).toBe(true);
    expect(runtime.list('g1')).toEqual([]);
    expect(lastRuns(conn.db, task.id, 1_000)).toEqual([]);
    expect(runningTasks(runtime)).toBe(0);
  });

  it('keeps the last 100 runs of a busy task (pruned every 8th run, so never more than 107)', async () => {
    const { runtime } = start();
    const task = await runtime.create('g1', definition({ schedule: { kind: 'interval', seconds: 10 } }));
    await vi.advanceTimersByTimeAsync(1_495_000);
    expect(runtime.info('g1', 'ping').task.currentLoop).toBe(150);
    expect(lastRuns(conn.db, task.id, 1_000)).toHaveLength(105); // pruned last with run 145
    expect(runtime.info('g1', 'ping', 100).runs.at(-1)?.scheduledAt).toBe(T0 + 500_000);
  });

  it('serializes commands on one task: two quick starts cannot start two loops', async () => {
    const { runtime, execute } = start();
    await runtime.create('g1', definition({ start: false }));
    const results = await Promise.allSettled([runtime.start('g1', 'ping'), runtime.start('g1', 'ping')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    await vi.advanceTimersByTimeAsync(0);
    expect(execute.calls).toHaveLength(1);
    expect(runningTasks(runtime)).toBe(1);
  });
});
