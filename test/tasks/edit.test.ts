// TaskRuntime.edit and its pure rules (src/tasks/edit.ts): a task changes what it does and keeps its history
// and progress; a new count or catch-up reaches the running loop once the run in flight has finished as it was.
import { describe, expect, it, vi } from 'vitest';
import { WALL_CHECK_MS } from '../../src/loop/timer-queue.js';
import {
  describeEdit,
  type EditChecks,
  planEdit,
  SCHEDULE_NOT_EDITABLE,
  stateAfterCount,
} from '../../src/tasks/edit.js';
import { DEFAULT_TIMEOUT_MS, type Task, TaskError } from '../../src/tasks/index.js';
import { definition, MINUTE, recordingExecutor, runningTasks, useRuntimeOnFakeClock } from './helpers.js';

const T0 = Date.UTC(2025, 5, 2, 12, 0, 0);
const CHANNEL_2 = '200000000000000002';

/** Options as a reminder-like kind checks them: `text` is required, `role` optional, `size` has a default. */
const checks: EditChecks = {
  options(merged) {
    if (typeof merged.text !== 'string' || merged.text === '') {
      throw new TaskError('invalid_definition', 'The `text` option is empty.');
    }
    return { size: 10, ...merged };
  },
  async channel(channelId) {
    return channelId === '300000000000000003' ? "I can't work in <#300000000000000003>." : undefined;
  },
};

function row(overrides: Partial<Task> = {}): Task {
  return {
    id: 1,
    guildId: 'g1',
    name: 'ping',
    kind: 'reminder',
    options: { text: 'hello', size: 10 },
    schedule: { kind: 'interval', seconds: 60 },
    count: null,
    catchUp: 'skip',
    state: 'running',
    currentLoop: 0,
    lastRunAt: null,
    nextRunAt: null,
    lastError: null,
    timeoutMs: DEFAULT_TIMEOUT_MS,
    channelId: 'channel-1',
    createdBy: 'admin-1',
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  } as Task;
}

const plan = (changes: Parameters<typeof planEdit>[1], task = row()) =>
  planEdit(task, changes, checks, DEFAULT_TIMEOUT_MS);

describe('planEdit', () => {
  it('keeps only what differs, and merges option changes into the stored options', () => {
    const planned = plan({
      setOptions: { text: 'bye', role: '100000000000000001' },
      count: 5,
      catchUp: 'skip',
    });
    expect(planned.patch).toEqual({
      options: { text: 'bye', role: '100000000000000001', size: 10 },
      count: 5,
    });
    expect(planned.optionNames).toEqual(['text', 'role']);
    expect(planned).toMatchObject({ recheckChannel: true, loopChanged: true });
    expect(plan({ count: null, timeoutMs: null, name: 'ping' }).patch).toEqual({});
  });

  it('clears an optional option, and one with a default goes back to it', () => {
    const task = row({ options: { text: 'hi', role: '100000000000000001', size: 4 } });
    const planned = plan({ clearOptions: ['role', 'size'] }, task);
    expect(planned.patch.options).toEqual({ text: 'hi', size: 10 });
    expect(planned.optionNames).toEqual(['role', 'size']);
  });

  it('refuses every bad change with a sentence', () => {
    const cases: [Parameters<typeof planEdit>[1], RegExp][] = [
      [{ schedule: { kind: 'interval', seconds: 60 } }, /use `\/task interval`/],
      [{ name: 'Bad Name!' }, /"Bad Name!" is not a valid task name/],
      [{ name: '' }, /"" is not a valid task name/],
      [{ name: 'x'.repeat(33) }, /is not a valid task name/],
      [{ channelId: 'general' }, /That is not a channel/],
      [{ count: 0 }, /at least 1/],
      [{ count: -3 }, /at least 1/],
      [{ count: 1.5 }, /whole number/],
      [{ catchUp: 'never' as 'skip' }, /"skip" or "once"/],
      [{ timeoutMs: 500 }, /at least 1 second/],
      [{ timeoutMs: 15 * MINUTE + 1 }, /15 minutes/],
      [{ timeoutMs: Number.NaN }, /between/],
      [{ clearOptions: ['text'] }, /The `text` option is empty/],
      [{ setOptions: { text: '' } }, /The `text` option is empty/],
      [{ setOptions: { role: '1' }, clearOptions: ['role'] }, /`role` is both given a value and cleared/],
    ];
    for (const [changes, sentence] of cases) {
      expect(() => plan(changes), JSON.stringify(changes)).toThrow(sentence);
      try {
        plan(changes);
      } catch (error) {
        expect(error).toBeInstanceOf(TaskError);
      }
    }
    expect(SCHEDULE_NOT_EDITABLE).toMatch(/^[^\n]+\.$/);
  });
});

describe('stateAfterCount', () => {
  it('completes a task whose new count is already reached, and stops a completed one given more runs', () => {
    expect(stateAfterCount(row({ currentLoop: 4 }), 3)).toBe('completed');
    expect(stateAfterCount(row({ currentLoop: 4 }), 4)).toBe('completed');
    expect(stateAfterCount(row({ currentLoop: 4 }), 5)).toBe('running');
    expect(stateAfterCount(row({ currentLoop: 4, state: 'cancelled' }), 2)).toBe('completed');
    expect(stateAfterCount(row({ currentLoop: 3, count: 3, state: 'completed' }), 5)).toBe('stopped');
    expect(stateAfterCount(row({ currentLoop: 3, count: 3, state: 'completed' }), null)).toBe('stopped');
    expect(stateAfterCount(row({ currentLoop: 3, count: 3, state: 'completed' }), 2)).toBe('completed');
    const oneOff = row({ schedule: { kind: 'once', at: T0, timeZone: 'UTC' } });
    expect(stateAfterCount({ ...oneOff, currentLoop: 1, count: 1, state: 'completed' }, 5)).toBe('completed');
  });
});

describe('describeEdit', () => {
  it('says in one sentence what changed', () => {
    const before = row({
      options: { text: 'hello', role: '100000000000000001', size: 10 },
      count: 5,
      currentLoop: 4,
    });
    const planned = plan({ setOptions: { text: 'a new text' }, clearOptions: ['role'], count: 3 }, before);
    const after = { ...before, ...planned.patch, state: 'completed' } as Task;
    expect(describeEdit(before, after, planned)).toBe(
      '**ping**: text "hello" → "a new text", role removed, count 5 → 3 (already ran 4 times, so it is now completed).',
    );
  });

  it('names long texts and ids as changed, shows short values, and says when nothing changed', () => {
    const before = row({ options: { text: 'x'.repeat(40), size: 10 }, timeoutMs: 60_000 });
    const planned = plan(
      {
        setOptions: { text: 'y'.repeat(40), size: 15, role: '100000000000000001' },
        timeoutMs: 90_000,
        catchUp: 'once',
        name: 'pong',
        channelId: CHANNEL_2,
      },
      before,
    );
    const after = { ...before, ...planned.patch } as Task;
    expect(describeEdit(before, after, planned)).toBe(
      `**ping**: renamed to **pong**, channel <#channel-1> → <#${CHANNEL_2}>, text changed, size 10 → 15, role set, catch-up skip → once, timeout 1m → 1m30s.`,
    );
    const none = plan({ count: null });
    expect(describeEdit(before, before, none)).toBe('**ping** already has those settings; nothing changed.');
  });

  it('tells how to go on when a completed task gets more runs', () => {
    const before = row({ count: 3, currentLoop: 3, state: 'completed' });
    const planned = plan({ count: 5 }, before);
    const after = { ...before, count: 5, state: 'stopped' } as Task;
    expect(describeEdit(before, after, planned)).toBe(
      '**ping**: count 3 → 5 (it had completed, so it is now stopped: `/task start` runs the 2 left).',
    );
  });
});

describe('TaskRuntime.edit', () => {
  const harness = useRuntimeOnFakeClock(T0);

  it('changes options, channel, name and timeout; history and progress stay; the next run uses them', async () => {
    const seen: Task[] = [];
    const runtime = harness.start(recordingExecutor(async (task) => void seen.push(task)));
    await runtime.create('g1', definition({ options: { text: 'hello' } }));
    await vi.advanceTimersByTimeAsync(MINUTE + 10); // runs at T0 and T0 + 1 min
    const edited = await runtime.edit(
      'g1',
      'ping',
      { name: 'pong', channelId: CHANNEL_2, setOptions: { text: 'bye' }, timeoutMs: 30_000 },
      checks,
    );
    expect(edited.reply).toBe(
      `**ping**: renamed to **pong**, channel <#channel-1> → <#${CHANNEL_2}>, text "hello" → "bye", size set to 10, timeout 1m → 30s.`,
    );
    expect(edited.task).toMatchObject({
      name: 'pong',
      channelId: CHANNEL_2,
      currentLoop: 2,
      state: 'running',
    });
    expect(edited.task.nextRunAt).toBe(T0 + 2 * MINUTE); // same slots as before
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(seen.map((task) => task.options.text)).toEqual(['hello', 'hello', 'bye']);
    expect(seen[2]).toMatchObject({ name: 'pong', channelId: CHANNEL_2, timeoutMs: 30_000 });
    runtime.flush();
    const { task, runs } = runtime.info('g1', 'pong');
    expect(task.currentLoop).toBe(3);
    expect(runs).toHaveLength(3);
    expect(() => runtime.info('g1', 'ping')).toThrow('no task named "ping"');
  });

  it('writes nothing when a change is refused', async () => {
    const runtime = harness.start(recordingExecutor());
    await runtime.create('g1', definition({ options: { text: 'hello' } }));
    await runtime.create('g1', definition({ name: 'other', options: { text: 'hi' } }));
    const refusals: [Parameters<typeof runtime.edit>[2], RegExp][] = [
      [{ name: 'other', count: 3 }, /already has a task named "other"/],
      [{ setOptions: { text: 'new' }, channelId: '300000000000000003', count: 3 }, /I can't work in/],
      [{ clearOptions: ['text'], count: 3 }, /The `text` option is empty/],
      [{ schedule: { kind: 'interval', seconds: 10 }, count: 3 }, /use `\/task interval`/],
    ];
    for (const [changes, sentence] of refusals) {
      await expect(runtime.edit('g1', 'ping', changes, checks)).rejects.toThrow(sentence);
    }
    await expect(runtime.edit('g1', 'nope', { count: 3 }, checks)).rejects.toThrow('no task named "nope"');
    expect(runtime.info('g1', 'ping').task).toMatchObject({
      count: null,
      options: { text: 'hello' },
      channelId: 'channel-1',
    });
  });

  it('checks the channel only when the channel or the options change', async () => {
    const runtime = harness.start(recordingExecutor());
    await runtime.create('g1', definition({ options: { text: 'hello' }, channelId: '300000000000000003' }));
    await expect(runtime.edit('g1', 'ping', { count: 7 }, checks)).resolves.toMatchObject({
      task: { count: 7 },
    });
    await expect(runtime.edit('g1', 'ping', { setOptions: { text: 'x' } }, checks)).rejects.toThrow(
      /can't work/,
    );
  });

  it('completes a task whose count is lowered to the runs done; the run in flight finishes as it was', async () => {
    let finish: (() => void) | undefined;
    const execute = recordingExecutor(async (_task, ctx) => {
      if (ctx.iteration === 3) await new Promise<void>((resolve) => (finish = resolve));
    });
    const runtime = harness.start(execute);
    await runtime.create('g1', definition({ count: 10 }));
    await vi.advanceTimersByTimeAsync(3 * MINUTE + 10); // iterations 0-2 done, 3 in flight
    expect(finish).toBeDefined();
    const edited = await runtime.edit('g1', 'ping', { count: 3 }, checks);
    expect(edited.task).toMatchObject({ state: 'completed', nextRunAt: null });
    expect(edited.reply).toBe('**ping**: count 10 → 3 (already ran 3 times, so it is now completed).');
    const signal = execute.calls[3]!.signal;
    finish!();
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(signal.aborted).toBe(false);
    expect(execute.calls).toHaveLength(4);
    runtime.flush();
    const { task, runs } = runtime.info('g1', 'ping');
    expect(task).toMatchObject({ state: 'completed', currentLoop: 4, nextRunAt: null });
    expect(runs.map((run) => run.outcome)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(runningTasks(runtime)).toBe(0);
  });

  it('gives a running loop its new count once the run in flight has finished, on the same slots', async () => {
    let finish: (() => void) | undefined;
    const execute = recordingExecutor(async (_task, ctx) => {
      if (ctx.iteration === 1) await new Promise<void>((resolve) => (finish = resolve));
    });
    const runtime = harness.start(execute);
    await runtime.create('g1', definition({ count: 10 }));
    await vi.advanceTimersByTimeAsync(MINUTE + 10); // iteration 0 done, 1 in flight
    const editing = runtime.edit('g1', 'ping', { count: 4 }, checks);
    await vi.advanceTimersByTimeAsync(20_000);
    finish!();
    const edited = await editing;
    expect(edited.task).toMatchObject({
      state: 'running',
      count: 4,
      currentLoop: 2,
      nextRunAt: T0 + 2 * MINUTE,
    });
    expect(edited.reply).toBe('**ping**: count 10 → 4.');
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(execute.calls.map((call) => [call.iteration, call.scheduledAt - T0])).toEqual([
      [0, 0],
      [1, MINUTE],
      [2, 2 * MINUTE],
      [3, 3 * MINUTE],
    ]);
    expect(runtime.info('g1', 'ping').task).toMatchObject({ state: 'completed', currentLoop: 4 });
  });

  it('completes at once when the run in flight reaches the new count', async () => {
    let finish: (() => void) | undefined;
    const execute = recordingExecutor(async (_task, ctx) => {
      if (ctx.iteration === 1) await new Promise<void>((resolve) => (finish = resolve));
    });
    const runtime = harness.start(execute);
    await runtime.create('g1', definition({ count: 10 }));
    await vi.advanceTimersByTimeAsync(MINUTE + 10);
    const editing = runtime.edit('g1', 'ping', { count: 2 }, checks);
    await vi.advanceTimersByTimeAsync(0);
    finish!();
    const edited = await editing;
    expect(edited.task).toMatchObject({ state: 'completed', currentLoop: 2, nextRunAt: null });
    expect(edited.reply).toBe('**ping**: count 10 → 2 (already ran 2 times, so it is now completed).');
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(execute.calls).toHaveLength(2);
    expect(runningTasks(runtime)).toBe(0);
  });

  it('stops a completed task given more runs, and start goes on from its progress', async () => {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    await runtime.create('g1', definition({ count: 2 }));
    await vi.advanceTimersByTimeAsync(2 * MINUTE);
    expect(runtime.info('g1', 'ping').task.state).toBe('completed');
    const edited = await runtime.edit('g1', 'ping', { count: 3 }, checks);
    expect(edited.task).toMatchObject({ state: 'stopped', count: 3, currentLoop: 2 });
    expect(edited.reply).toContain('it had completed, so it is now stopped: `/task start` runs the 1 left');
    await runtime.start('g1', 'ping');
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(execute.calls.map((call) => call.iteration)).toEqual([0, 1, 2]);
    expect(runtime.info('g1', 'ping').task).toMatchObject({ state: 'completed', currentLoop: 3 });
  });

  it('gives a running loop its new catch-up policy', async () => {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    await runtime.create(
      'g1',
      definition({ schedule: { kind: 'times', times: ['13:00'], timeZone: 'UTC' }, catchUp: 'skip' }),
    );
    expect((await runtime.edit('g1', 'ping', { catchUp: 'once' }, checks)).reply).toBe(
      '**ping**: catch-up skip → once.',
    );
    vi.setSystemTime(T0 + 3 * 60 * MINUTE); // the wall clock jumps past 13:00, as after downtime
    await vi.advanceTimersByTimeAsync(WALL_CHECK_MS);
    expect(execute.calls.map((call) => call.scheduledAt)).toEqual([T0 + 60 * MINUTE]);
  });

  it('holds both names while renaming, so crossed renames both finish', async () => {
    const runtime = harness.start(recordingExecutor());
    await runtime.create('g1', definition({ name: 'a', options: { text: 'x' } }));
    await runtime.create('g1', definition({ name: 'b', options: { text: 'y' } }));
    const results = await Promise.allSettled([
      runtime.edit('g1', 'a', { name: 'b' }, checks),
      runtime.edit('g1', 'b', { name: 'a' }, checks),
    ]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(runtime.list('g1').map((task) => [task.name, task.options.text])).toEqual([
      ['a', 'x'],
      ['b', 'y'],
    ]);
    await runtime.edit('g1', 'a', { name: 'c' }, checks);
    await runtime.edit('g1', 'b', { name: 'a' }, checks);
    expect(runtime.list('g1').map((task) => [task.name, task.options.text])).toEqual([
      ['a', 'y'],
      ['c', 'x'],
    ]);
  });
});
