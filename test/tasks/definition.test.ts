import { describe, expect, it } from 'vitest';
import { loop } from '../../src/loop/index.js';
import { interruptedSlot, settledProgress } from '../../src/tasks/definition.js';
import { checkTaskName, resumeDueAt, type TaskSchedule, toLoopOptions } from '../../src/tasks/index.js';

const T0 = Date.UTC(2025, 5, 2, 12, 0, 0);
const schedule = (s: TaskSchedule) => loop(toLoopOptions(s), () => {}).schedule;
const everyMinute = schedule({ kind: 'interval', seconds: 60 });

describe('task names', () => {
  it.each(['a', 'daily-reminder', 'x_1', '0', 'a'.repeat(32)])('accepts %s', (name) => {
    expect(() => checkTaskName(name)).not.toThrow();
  });
  it.each(['', 'Daily', '-a', '_a', 'a b', 'a'.repeat(33), 'é'])('rejects %j', (name) => {
    expect(() => checkTaskName(name)).toThrow(expect.objectContaining({ code: 'invalid_name' }));
  });
});

describe('resumeDueAt', () => {
  const ranAt = T0;

  it('returns the next slot when nothing was missed, whatever the policy', () => {
    for (const catchUp of ['skip', 'once'] as const) {
      const task = { lastRunAt: ranAt, nextRunAt: ranAt + 60_000, catchUp };
      expect(resumeDueAt(everyMinute, task, ranAt + 10_000)).toBe(ranAt + 60_000);
    }
  });

  it('skip: jumps to the next future slot on the same grid', () => {
    const task = { lastRunAt: ranAt, nextRunAt: ranAt + 60_000, catchUp: 'skip' as const };
    expect(resumeDueAt(everyMinute, task, ranAt + 5.5 * 60_000)).toBe(ranAt + 6 * 60_000);
  });

  it('once: the first missed slot, so it runs at once with that slot (and its nonce)', () => {
    const task = { lastRunAt: ranAt, nextRunAt: ranAt + 60_000, catchUp: 'once' as const };
    expect(resumeDueAt(everyMinute, task, ranAt + 5.5 * 60_000)).toBe(ranAt + 60_000);
  });

  it('a task that never ran resumes from its stored first slot', () => {
    const skip = { lastRunAt: null, nextRunAt: ranAt, catchUp: 'skip' as const };
    expect(resumeDueAt(everyMinute, skip, ranAt + 90_000)).toBe(ranAt + 120_000);
    expect(resumeDueAt(everyMinute, { ...skip, catchUp: 'once' }, ranAt + 90_000)).toBe(ranAt);
  });

  it('times of day: skip goes to the next listed time, once runs the first missed one', () => {
    const daily = schedule({ kind: 'times', times: ['09:00', '18:00'], timeZone: 'UTC' });
    const lastRunAt = Date.UTC(2025, 5, 2, 9);
    const now = Date.UTC(2025, 5, 3, 10); // missed 18:00 and 09:00
    expect(resumeDueAt(daily, { lastRunAt, nextRunAt: null, catchUp: 'skip' }, now)).toBe(
      Date.UTC(2025, 5, 3, 18),
    );
    expect(resumeDueAt(daily, { lastRunAt, nextRunAt: null, catchUp: 'once' }, now)).toBe(
      Date.UTC(2025, 5, 2, 18),
    );
  });
});

describe('a slot a crash interrupted', () => {
  const WINDOW = 120_000;
  const intent = { scheduledAt: T0, startedAt: T0 + 500, iteration: 4 };

  it('is replayed as the same iteration while its first attempt is inside the retry window', () => {
    const task = { currentLoop: 4, lastRunAt: T0 - 60_000 };
    expect(interruptedSlot(task, intent, T0 + 500 + WINDOW - 1, WINDOW)).toEqual({
      replay: true,
      currentLoop: 4,
      dueMs: T0,
    });
  });

  it('past the window it is settled as done: counted once, and the last slot the task ran', () => {
    const task = { currentLoop: 4, lastRunAt: T0 - 60_000 };
    expect(interruptedSlot(task, intent, T0 + 500 + WINDOW, WINDOW)).toEqual({
      replay: false,
      currentLoop: 5,
      lastRunAt: T0,
    });
  });

  it("trusts the intent's iteration when the records before it were never written", () => {
    const stale = { currentLoop: 2, lastRunAt: T0 - 180_000 };
    expect(interruptedSlot(stale, intent, T0 + 1_000, WINDOW)).toMatchObject({
      replay: true,
      currentLoop: 4,
    });
    expect(settledProgress(stale, intent)).toEqual({ currentLoop: 5, lastRunAt: T0 });
    // A row never behind: nothing counted twice, nothing moved back.
    expect(settledProgress({ currentLoop: 9, lastRunAt: T0 + 60_000 }, intent)).toEqual({
      currentLoop: 9,
      lastRunAt: T0 + 60_000,
    });
  });
});
