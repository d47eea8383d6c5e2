// changeInterval() computes the new next slot before it assigns anything: a throw while computing leaves
// the loop on its old schedule and slot. The slot arithmetic is made to throw on demand, since every
// schedule normalizeSchedule accepts has a next slot.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loop } from '../../src/loop/index.js';
import { sharedTimerQueue } from '../../src/loop/timer-queue.js';

const failing = vi.hoisted(() => ({ slots: false }));

vi.mock('../../src/loop/schedule.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/loop/schedule.js')>();
  const guard =
    <F extends (...args: never[]) => number>(fn: F) =>
    (...args: Parameters<F>): number => {
      if (failing.slots) throw new RangeError('no next slot');
      return fn(...args);
    };
  return { ...actual, nextDueAfter: guard(actual.nextDueAfter), firstDueAt: guard(actual.firstDueAt) };
});

const START = Date.parse('2025-01-06T12:00:00Z');

beforeEach(() => {
  vi.useFakeTimers({ now: START });
});
afterEach(() => {
  failing.slots = false;
  expect(sharedTimerQueue.size).toBe(0);
  vi.useRealTimers();
});

describe('changeInterval when the next slot cannot be computed', () => {
  it('throws and leaves the schedule, the next slot and the firing grid as they were', async () => {
    const fired: number[] = [];
    const l = loop({ seconds: 10 }, () => {
      fired.push(Date.now() - START);
    });
    void l.start();
    await vi.advanceTimersByTimeAsync(1_000);
    const before = l.schedule;

    failing.slots = true;
    expect(() => l.changeInterval({ cron: '0 9 * * *' })).toThrow('no next slot');
    failing.slots = false;

    expect(l.schedule).toBe(before);
    expect(l.nextIteration?.getTime()).toBe(START + 10_000);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(fired).toEqual([0, 10_000, 20_000]);
    l.cancel();
    await vi.advanceTimersByTimeAsync(0);
  });

  it('leaves a loop that has not run yet on its first slot', async () => {
    const l = loop({ time: '13:00' }, () => {});
    void l.start();
    await vi.advanceTimersByTimeAsync(0);
    failing.slots = true;
    expect(() => l.changeInterval({ cron: '0 9 * * *' })).toThrow('no next slot');
    failing.slots = false;
    expect(l.schedule).toMatchObject({ kind: 'time' });
    expect(l.nextIteration?.getTime()).toBe(Date.parse('2025-01-06T13:00:00Z'));
    l.cancel();
    await vi.advanceTimersByTimeAsync(0);
  });
});
