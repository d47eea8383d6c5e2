// retryWindow: a slot that keeps hitting handled errors is given up once its next retry would start past
// the window, and the loop goes on with its next slot. Without the option it retries as discord.py does.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type IterationEndInfo,
  type Loop,
  type LoopContext,
  type LoopOptions,
  loop,
} from '../../src/loop/index.js';
import { sharedTimerQueue } from '../../src/loop/timer-queue.js';

const START = Date.parse('2025-01-06T12:00:00Z');
const created: Loop[] = [];

function make(options: LoopOptions, fn: (ctx: LoopContext) => unknown): Loop {
  const l = loop(options, fn);
  created.push(l);
  return l;
}

const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);
const networkError = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

/** Every attempt as [slot, started] and every end as [outcome, iteration, slot, next, gaveUp], ms from START. */
function watch(l: Loop) {
  const ends: unknown[][] = [];
  const starts: number[][] = [];
  l.observe({
    iterationStart: (info) =>
      starts.push([info.scheduledAt.getTime() - START, info.startedAt.getTime() - START]),
    iterationEnd: (info: IterationEndInfo) =>
      ends.push([
        info.outcome,
        info.iteration,
        info.scheduledAt.getTime() - START,
        info.nextIteration && info.nextIteration.getTime() - START,
        info.gaveUp ?? false,
      ]),
  });
  return { ends, starts };
}

beforeEach(() => {
  vi.useFakeTimers({ now: START });
  vi.spyOn(Math, 'random').mockReturnValue(1); // backoff at the top of each step: 1 s, 2 s, 4 s, 8 s…
});

afterEach(async () => {
  for (const l of created.splice(0)) l.cancel();
  await tick(0);
  expect(sharedTimerQueue.size).toBe(0);
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('retryWindow', () => {
  it('gives up a slot whose next retry would start past the window, then runs the next slot', async () => {
    const l = make({ minutes: 1, retryWindow: { seconds: 10 } }, (ctx) => {
      if (ctx.scheduledAt.getTime() === START) throw networkError();
    });
    const onError = vi.fn();
    l.onError(onError);
    const { ends, starts } = watch(l);
    void l.start();
    await tick(59_000);

    // Attempts at 0, 1, 3, 7 s; the next would start at 15 s, past 0 + 10 s.
    expect(starts).toEqual([
      [0, 0],
      [0, 1_000],
      [0, 3_000],
      [0, 7_000],
    ]);
    expect(ends).toEqual([
      ['retried', 0, 0, 1_000, false],
      ['retried', 0, 0, 3_000, false],
      ['retried', 0, 0, 7_000, false],
      ['error', 0, 0, 60_000, true],
    ]);
    expect(l.currentLoop).toBe(0); // the count counts successes
    expect(l.isRunning()).toBe(true);
    expect(l.failed()).toBe(false);
    expect(l.nextIteration?.getTime()).toBe(START + 60_000);

    await tick(1_000);
    expect(ends.at(-1)).toEqual(['ok', 0, 60_000, 120_000, false]);
    expect(l.currentLoop).toBe(1);
    expect(onError).not.toHaveBeenCalled();
  });

  it('goes on at the next slot after now, skipping slots the retries overlapped (no catch-up burst)', async () => {
    const l = make({ seconds: 5, retryWindow: { seconds: 12 } }, (ctx) => {
      if (ctx.scheduledAt.getTime() === START) throw networkError();
    });
    const { ends, starts } = watch(l);
    void l.start();
    await tick(10_000);

    // Retries at 1, 3, 7 s; the one at 15 s is past 12 s. The slot at 5 s is already missed: next is 10 s.
    expect(starts.map(([slot]) => slot)).toEqual([0, 0, 0, 0, 10_000]);
    expect(ends.slice(3)).toEqual([
      ['error', 0, 0, 10_000, true],
      ['ok', 0, 10_000, 15_000, false],
    ]);
  });

  it('retries as before while the retries stay within the window', async () => {
    let failuresLeft = 3;
    const l = make({ minutes: 1, retryWindow: { minutes: 2 } }, () => {
      if (failuresLeft-- > 0) throw networkError();
    });
    const { ends } = watch(l);
    void l.start();
    await tick(10_000);
    expect(ends).toEqual([
      ['retried', 0, 0, 1_000, false],
      ['retried', 0, 0, 3_000, false],
      ['retried', 0, 0, 7_000, false],
      ['ok', 0, 0, 60_000, false],
    ]);
    expect(l.currentLoop).toBe(1);
  });

  it('counts the window from the first attempt, so a slot run late on purpose still gets its retries', async () => {
    let failuresLeft = 2;
    const l = make({ minutes: 1, retryWindow: { seconds: 10 } }, () => {
      if (failuresLeft-- > 0) throw networkError();
    });
    const { ends } = watch(l);
    void l.resume({ currentLoop: 4, firstDueAt: START - 30 * 60_000 }); // a catch-up run, 30 min late
    await tick(5_000);
    expect(ends.map(([outcome]) => outcome)).toEqual(['retried', 'retried', 'ok']);
    expect(l.currentLoop).toBe(5);
  });

  it('without a window (the default, or null) retries the same slot for as long as it takes', async () => {
    for (const retryWindow of [undefined, null]) {
      const l = make({ minutes: 1, ...(retryWindow === null ? { retryWindow } : {}) }, () => {
        throw networkError();
      });
      const { ends, starts } = watch(l);
      void l.start();
      await tick(60 * 60_000);
      expect(starts.length).toBeGreaterThan(10);
      expect(new Set(starts.map(([slot]) => slot)).size).toBe(1); // one slot, never given up
      expect(ends.every(([outcome, , , , gaveUp]) => outcome === 'retried' && gaveUp === false)).toBe(true);
      expect(l.currentLoop).toBe(0);
      l.cancel();
      await tick(0);
    }
  });

  it('a zero window gives a slot up at its first handled error; fatal errors still fail the loop', async () => {
    const l = make({ seconds: 10, retryWindow: { seconds: 0 } }, (ctx) => {
      if (ctx.iteration === 0 && ctx.scheduledAt.getTime() === START) throw networkError();
      if (ctx.iteration === 1) throw new Error('a bug');
    });
    l.onError(() => {});
    const { ends } = watch(l);
    const done = l.start();
    await tick(20_000);
    await done;
    expect(ends).toEqual([
      ['error', 0, 0, 10_000, true],
      ['ok', 0, 10_000, 20_000, false],
      ['error', 1, 20_000, null, false],
    ]);
    expect(l.failed()).toBe(true);
  });

  it('does not give up a slot when stop() came during the failed attempt: the loop just ends', async () => {
    const l = make({ seconds: 10, retryWindow: { seconds: 0 } }, async () => {
      await new Promise((r) => setTimeout(r, 100));
      throw networkError();
    });
    const { ends } = watch(l);
    const done = l.start();
    await tick(50);
    l.stop();
    await tick(100);
    await done;
    expect(ends).toEqual([['retried', 0, 0, null, false]]);
  });

  it.each([
    [{ minutes: -1 }, /"retryWindow.minutes" must be a finite number >= 0/],
    [{ seconds: Number.NaN }, /"retryWindow.seconds" must be a finite number >= 0/],
    [{ days: 1 }, /"retryWindow" got unknown unit "days"/],
    [{ hours: 1e305 }, /"retryWindow" \(seconds \+ minutes \+ hours\) is too large/],
    [120_000, /"retryWindow" must be an object such as \{ minutes: 2 \}/],
  ])('refuses retryWindow %s at loop() time', (retryWindow, message) => {
    expect(() =>
      loop({ seconds: 1, retryWindow: retryWindow as LoopOptions['retryWindow'] }, () => {}),
    ).toThrow(message);
  });
});
