// A persisted task's catch-up policy also governs a slot the wall clock jumped past (issue 9, item 12): the
// runtime hands it to the task's loop, so a 2 h NTP step or VM resume acts exactly like 2 h of downtime.
import { describe, expect, it, vi } from 'vitest';
import { getTaskById } from '../../src/db/index.js';
import { WALL_CHECK_MS } from '../../src/loop/timer-queue.js';
import { definition, recordingExecutor, useRuntimeOnFakeClock } from './helpers.js';

const START = Date.parse('2025-01-06T08:30:00Z');
const JUMPED_TO = Date.parse('2025-01-06T10:30:00Z');
const NINE = Date.parse('2025-01-06T09:00:00Z');
const NINE_TOMORROW = Date.parse('2025-01-07T09:00:00Z');
const DAY = 86_400_000;

describe('a clock jump past a persisted task slot', () => {
  const harness = useRuntimeOnFakeClock(START);

  async function dailyNineJumpedPast(catchUp: 'skip' | 'once') {
    const execute = recordingExecutor();
    const runtime = harness.start(execute);
    const task = await runtime.create(
      'g1',
      definition({ schedule: { kind: 'times', times: ['09:00'], timeZone: 'UTC' }, catchUp }),
    );
    expect(task.nextRunAt).toBe(NINE);
    await vi.advanceTimersByTimeAsync(60_000);
    vi.setSystemTime(JUMPED_TO); // the wall clock alone steps 2 h: timers and the monotonic clock do not
    await vi.advanceTimersByTimeAsync(WALL_CHECK_MS);
    return { execute, taskId: task.id, runtime };
  }

  it('with catch-up skip, the 09:00 is not run at 10:30; the row shows tomorrow, and tomorrow runs on time', async () => {
    const { execute, taskId, runtime } = await dailyNineJumpedPast('skip');
    expect(execute.calls).toEqual([]);
    runtime.flush();
    expect(getTaskById(harness.db(), taskId)).toMatchObject({ nextRunAt: NINE_TOMORROW, currentLoop: 0 });
    await vi.advanceTimersByTimeAsync(DAY);
    expect(execute.calls.map((c) => [c.scheduledAt, c.calledAt])).toEqual([[NINE_TOMORROW, NINE_TOMORROW]]);
  });

  it('with catch-up once, the 09:00 runs once, late, then tomorrow on time', async () => {
    const { execute } = await dailyNineJumpedPast('once');
    expect(execute.calls.map((c) => c.scheduledAt)).toEqual([NINE]);
    expect(execute.calls[0]!.calledAt).toBeGreaterThanOrEqual(JUMPED_TO);
    await vi.advanceTimersByTimeAsync(DAY);
    expect(execute.calls.map((c) => c.scheduledAt)).toEqual([NINE, NINE_TOMORROW]);
  });
});
