// An iteration computes its next slot once, as it starts (nextIteration shows it while the callback runs),
// and reuses it when the callback ends; only an iteration that ran past that slot computes again, skipping
// the slots it overran. The slot arithmetic is counted by wrapping schedule.js's nextDueAfter.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loop } from '../../src/loop/index.js';
import { sharedTimerQueue } from '../../src/loop/timer-queue.js';

const calls = vi.hoisted(() => ({ nextDueAfter: 0 }));

vi.mock('../../src/loop/schedule.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/loop/schedule.js')>();
  return {
    ...actual,
    nextDueAfter: (...args: Parameters<typeof actual.nextDueAfter>) => {
      calls.nextDueAfter++;
      return actual.nextDueAfter(...args);
    },
  };
});

const START = Date.parse('2026-03-08T06:59:50Z'); // ten seconds before New York springs forward

beforeEach(() => {
  vi.useFakeTimers({ now: START });
  calls.nextDueAfter = 0;
});
afterEach(() => {
  expect(sharedTimerQueue.size).toBe(0);
  vi.useRealTimers();
});

describe('the next slot of an iteration', () => {
  it('is computed once per iteration of a cron loop', async () => {
    const fired: string[] = [];
    const l = loop({ cron: '*/5 * * * * *', timeZone: 'America/New_York' }, (ctx) => {
      fired.push(ctx.scheduledAt.toISOString());
    });
    void l.start();
    await vi.advanceTimersByTimeAsync(20_000);
    l.stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(fired).toEqual([
      '2026-03-08T06:59:50.000Z',
      '2026-03-08T06:59:55.000Z',
      '2026-03-08T07:00:00.000Z', // 03:00 EDT, right after the gap
      '2026-03-08T07:00:05.000Z',
      '2026-03-08T07:00:10.000Z',
    ]);
    expect(calls.nextDueAfter).toBe(fired.length);
  });

  it('is computed again when the callback ran past it, and the overrun slots are skipped', async () => {
    const fired: string[] = [];
    const l = loop({ cron: '*/5 * * * * *', timeZone: 'America/New_York' }, async (ctx) => {
      fired.push(ctx.scheduledAt.toISOString());
      // The second iteration takes 12 s: the slots at +5 s and +10 s after it pass while it runs.
      if (ctx.iteration === 1) await new Promise((resolve) => setTimeout(resolve, 12_000));
    });
    void l.start();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(l.nextIteration?.toISOString()).toBe('2026-03-08T07:00:00.000Z'); // shown while it runs
    await vi.advanceTimersByTimeAsync(15_000);
    l.stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(fired).toEqual([
      '2026-03-08T06:59:50.000Z',
      '2026-03-08T06:59:55.000Z',
      '2026-03-08T07:00:10.000Z',
    ]);
    expect(calls.nextDueAfter).toBe(fired.length + 1);
  });

  it('follows a schedule changed while the callback runs', async () => {
    const fired: string[] = [];
    const l = loop({ cron: '*/5 * * * * *', timeZone: 'America/New_York' }, async (ctx) => {
      fired.push(ctx.scheduledAt.toISOString());
      if (ctx.iteration === 0) {
        l.changeInterval({ cron: '*/3 * * * * *', timeZone: 'America/New_York' });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    });
    void l.start();
    await vi.advanceTimersByTimeAsync(7_000);
    l.stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(fired).toEqual([
      '2026-03-08T06:59:50.000Z',
      '2026-03-08T06:59:51.000Z',
      '2026-03-08T06:59:54.000Z',
      '2026-03-08T06:59:57.000Z',
    ]);
  });
});
