// Conformance of Loop with discord.py's tasks.Loop (and where we deliberately differ), driven by fake timers.
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import {
  type IterationEndInfo,
  type Loop,
  type LoopContext,
  type LoopOptions,
  loop,
  TransientError,
} from '../../src/loop/index.js';
import { MAX_FIRES_PER_TURN, sharedTimerQueue } from '../../src/loop/timer-queue.js';

const START = Date.parse('2025-01-06T12:00:00Z');
const created: Loop<never[]>[] = [];
let consoleError: MockInstance<typeof console.error>;

/** loop(), remembered so afterEach can make sure nothing is left running. */
function make<A extends unknown[] = []>(
  options: LoopOptions,
  fn: (...args: [...A, LoopContext]) => unknown,
): Loop<A> {
  const l = loop<A>(options, fn);
  created.push(l as unknown as Loop<never[]>);
  return l;
}

const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);
const sinceStart = () => Date.now() - START;
const networkError = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

beforeEach(() => {
  vi.useFakeTimers({ now: START });
  consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
});

afterEach(async () => {
  for (const l of created.splice(0)) l.cancel();
  await tick(0);
  // An expect() failing inside a loop callback or hook is caught by the loop and logged, not thrown into the
  // test: without this, assertions written there could never fail.
  const swallowed = consoleError.mock.calls
    .flat()
    .filter((a) => a instanceof Error && a.name === 'AssertionError');
  expect(swallowed).toEqual([]);
  expect(created.every((l) => !l.isRunning())).toBe(true);
  expect(sharedTimerQueue.size).toBe(0);
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('running on a relative schedule', () => {
  it('calls fn(...startArgs, ctx) now and then every interval', async () => {
    const calls: [string, number, number, number, boolean][] = [];
    const l = make<[string]>({ seconds: 10 }, (who, ctx) => {
      calls.push([who, ctx.iteration, ctx.scheduledAt.getTime() - START, sinceStart(), ctx.signal.aborted]);
    });
    expect(l.nextIteration).toBeNull();
    void l.start('alice');
    expect(l.isRunning()).toBe(true);
    await tick(25_000);
    expect(calls).toEqual([
      ['alice', 0, 0, 0, false],
      ['alice', 1, 10_000, 10_000, false],
      ['alice', 2, 20_000, 20_000, false],
    ]);
    expect(l.currentLoop).toBe(3);
    expect(l.nextIteration?.getTime()).toBe(START + 30_000);
  });

  it('runs exactly `count` times, then afterLoop, then resolves the start promise', async () => {
    const events: string[] = [];
    const l = make({ seconds: 1, count: 3 }, (ctx) => {
      events.push(`run ${ctx.iteration}`);
    });
    l.afterLoop(() => {
      events.push(`after ${l.currentLoop}`);
    });
    const done = l.start().then(() => events.push('done'));
    await tick(10_000);
    await done;
    expect(events).toEqual(['run 0', 'run 1', 'run 2', 'after 3', 'done']);
    expect(l.isRunning()).toBe(false);
    expect(l.failed()).toBe(false);
    expect(l.nextIteration).toBeNull();
    // Unlike discord.py we keep currentLoop after the run; the next start resets it.
    expect(l.currentLoop).toBe(3);
    void l.start();
    expect(l.currentLoop).toBe(0);
  });

  it('runs the first iteration right after start() returns, not inside it', async () => {
    const fn = vi.fn();
    const l = make({ seconds: 10 }, fn);
    void l.start();
    expect(fn).not.toHaveBeenCalled();
    const starts: number[] = [];
    l.observe({ iterationStart: (info) => starts.push(info.iteration) });
    await Promise.resolve();
    expect(fn).toHaveBeenCalledOnce();
    expect(starts).toEqual([0]);
    expect(sinceStart()).toBe(0);
  });

  it('lets changeInterval() right after start() move the first slot', async () => {
    vi.setSystemTime(Date.parse('2025-01-06T08:00:00Z'));
    const runs: string[] = [];
    const l = make({ seconds: 10 }, () => {
      runs.push(new Date().toISOString());
    });
    void l.start();
    l.changeInterval({ time: '09:00' });
    expect(l.nextIteration?.toISOString()).toBe('2025-01-06T09:00:00.000Z');
    await tick(3_600_000);
    expect(runs).toEqual(['2025-01-06T09:00:00.000Z']);
  });

  it('throws when started twice', () => {
    const l = make({ seconds: 1 }, () => {});
    void l.start();
    expect(() => l.start()).toThrow(/already running/);
  });

  it('ends 10,000 iterations of a 1 s loop exactly at start + 10,000 s', async () => {
    let lateness = 0;
    let last = 0;
    const l = make({ seconds: 1 }, (ctx) => {
      lateness = Math.max(lateness, Date.now() - ctx.scheduledAt.getTime());
      last = ctx.scheduledAt.getTime();
    });
    void l.start();
    await tick(10_000_000);
    expect(l.currentLoop).toBe(10_001);
    expect(last).toBe(START + 10_000_000);
    expect(lateness).toBe(0);
  });

  it('skips the slots an overrunning iteration missed, and shows the true next slot meanwhile', async () => {
    const runs: number[] = [];
    const l = make({ seconds: 10 }, async (ctx) => {
      runs.push(ctx.scheduledAt.getTime() - START);
      if (ctx.iteration === 0) await new Promise((r) => setTimeout(r, 25_000));
    });
    void l.start();
    await tick(1);
    expect(l.nextIteration?.getTime()).toBe(START + 10_000);
    await tick(24_999);
    // The iteration ended at 25 s: 10 s and 20 s are gone, 30 s is next (discord.py would burst 10 s and 20 s).
    expect(runs).toEqual([0]);
    expect(l.nextIteration?.getTime()).toBe(START + 30_000);
    await tick(10_000);
    expect(runs).toEqual([0, 30_000]);
  });

  it('runs back-to-back with interval 0 while still yielding to other timers', async () => {
    let runs = 0;
    let other = false;
    const l = make({}, () => {
      runs++;
    });
    void l.start();
    setTimeout(() => {
      other = true;
    }, 5);
    await tick(10);
    expect(other).toBe(true);
    expect(runs).toBeGreaterThanOrEqual(5);
  });
});

describe('stop, cancel and restart', () => {
  it('stop() lets the iteration in flight finish, starts no new one, then runs afterLoop', async () => {
    const events: string[] = [];
    let signal: AbortSignal | undefined;
    const l = make({ seconds: 10 }, async (ctx) => {
      signal = ctx.signal;
      events.push(`begin ${ctx.iteration}`);
      await new Promise((r) => setTimeout(r, 3_000));
      events.push(`end ${ctx.iteration}`);
    });
    l.afterLoop(() => {
      events.push('after');
    });
    const reasons: string[] = [];
    l.observe({ end: (reason) => reasons.push(reason) });
    void l.start();
    await tick(1_000);
    l.stop();
    expect(l.isRunning()).toBe(true);
    await tick(60_000);
    expect(events).toEqual(['begin 0', 'end 0', 'after']);
    expect(signal?.aborted).toBe(false);
    expect(reasons).toEqual(['stopped']);
    expect(l.currentLoop).toBe(1);
  });

  it('gives each attempt its own signal: a late read of a failed attempt never gets the retry in flight', async () => {
    const contexts: { signal: AbortSignal }[] = [];
    const l = make({ seconds: 60 }, async (ctx) => {
      contexts.push(ctx);
      if (contexts.length === 1) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      await new Promise((r) => setTimeout(r, 10_000));
    });
    void l.start();
    await tick(5_000); // the first attempt failed; its retry (after at most 1 s) is in flight
    expect(contexts).toHaveLength(2);
    const retrySignal = contexts[1]!.signal;
    const lateSignal = contexts[0]!.signal; // read after its attempt ended, as a timer left behind would
    expect(lateSignal).not.toBe(retrySignal);
    l.cancel();
    expect(retrySignal.aborted).toBe(true);
    await tick(60_000);
    expect(l.isRunning()).toBe(false);
  });

  it('stop() while waiting for the next slot ends at once (discord.py would run one more iteration)', async () => {
    const runs: number[] = [];
    const l = make({ minutes: 5 }, (ctx) => {
      runs.push(ctx.iteration);
    });
    const after = vi.fn();
    l.afterLoop(after);
    const done = l.start();
    await tick(1_000);
    l.stop();
    await done;
    expect(sinceStart()).toBe(1_000);
    expect(runs).toEqual([0]);
    expect(after).toHaveBeenCalledOnce();
  });

  it('cancel() aborts the iteration in flight, ends the loop and runs afterLoop even if fn ignores the signal', async () => {
    let signal: AbortSignal | undefined;
    const l = make({ seconds: 10 }, (ctx) => {
      signal = ctx.signal;
      return new Promise(() => {}); // never settles
    });
    const after = vi.fn();
    const ends: IterationEndInfo[] = [];
    const reasons: string[] = [];
    l.afterLoop(after);
    l.observe({ iterationEnd: (info) => ends.push(info), end: (reason) => reasons.push(reason) });
    const done = l.start();
    await tick(500);
    l.cancel();
    expect(l.isBeingCancelled()).toBe(true);
    expect(signal?.aborted).toBe(true);
    expect((signal!.reason as Error).name).toBe('AbortError');
    await done;
    expect(after).toHaveBeenCalledOnce();
    expect(l.isRunning()).toBe(false);
    expect(l.isBeingCancelled()).toBe(false);
    expect(ends.map((e) => e.outcome)).toEqual(['cancelled']);
    expect(reasons).toEqual(['cancelled']);
    expect(l.currentLoop).toBe(0);
  });

  it('cancel() of an iteration that then rejects leaves no unhandled rejection and no error report', async () => {
    const l = make({ seconds: 10 }, (ctx) => {
      return new Promise((_, reject) =>
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
      );
    });
    const onError = vi.fn();
    l.onError(onError);
    const done = l.start();
    await tick(1);
    l.cancel();
    await done;
    await tick(1);
    expect(onError).not.toHaveBeenCalled();
    expect(l.failed()).toBe(false);
  });

  it('cancel() while waiting for a slot ends at once', async () => {
    const l = make({ hours: 1 }, () => {});
    const done = l.start();
    await tick(10);
    l.cancel();
    await done;
    expect(sinceStart()).toBe(10);
  });

  it('two quick restarts start exactly one new run, once the old one has fully ended, with the last args', async () => {
    const events: string[] = [];
    const l = make<[string]>({ seconds: 30 }, async (who, ctx) => {
      events.push(`run ${who} ${ctx.iteration}`);
      await new Promise((r) => setTimeout(r, 1_000));
    });
    l.beforeLoop(() => {
      events.push('before');
    });
    l.afterLoop(async () => {
      await new Promise((r) => setTimeout(r, 100));
      events.push('after');
    });
    void l.start('a');
    await tick(10);
    const first = l.restart('b');
    const second = l.restart('c');
    expect(first).toBe(second);
    await tick(200);
    expect(events).toEqual(['before', 'run a 0', 'after']);
    // The old callback ignored its signal and still runs until 1 s: the new run starts once it settles.
    await tick(800);
    expect(events).toEqual(['before', 'run a 0', 'after', 'before', 'run c 0']);
    expect(l.isRunning()).toBe(true);
    l.stop();
    await tick(2_000);
    await first;
  });

  it('restart() on a stopped loop simply starts it', async () => {
    const runs = vi.fn();
    const l = make({ seconds: 1, count: 1 }, runs);
    await l.restart();
    expect(runs).toHaveBeenCalledOnce();
  });

  it('stop() after restart() drops the restart still waiting for the old run to end', async () => {
    const runs = vi.fn(() => new Promise((r) => setTimeout(r, 1_000)));
    const l = make({ seconds: 5 }, runs);
    void l.start();
    await tick(1);
    const restarted = l.restart();
    l.stop();
    await restarted;
    await tick(20_000);
    expect(runs).toHaveBeenCalledOnce();
    expect(l.isRunning()).toBe(false);
  });

  it('stop() and cancel() on a loop that is not running do nothing', () => {
    const l = make({ seconds: 1 }, () => {});
    l.stop();
    l.cancel();
    expect(l.isRunning()).toBe(false);
  });
});

describe('hooks and errors', () => {
  it('an error in beforeLoop goes to onError, fails the loop, and afterLoop still runs', async () => {
    const fn = vi.fn();
    const l = make({ seconds: 1 }, fn);
    const boom = new Error('no database');
    const onError = vi.fn();
    const after = vi.fn();
    l.beforeLoop(() => {
      throw boom;
    })
      .onError(onError)
      .afterLoop(after);
    await l.start();
    expect(onError).toHaveBeenCalledWith(boom);
    expect(l.failed()).toBe(true);
    expect(after).toHaveBeenCalledOnce();
    expect(fn).not.toHaveBeenCalled();
  });

  it('waits for an async beforeLoop before the first slot', async () => {
    const events: string[] = [];
    const l = make({ seconds: 10 }, () => {
      events.push(`run@${sinceStart()}`);
    });
    l.beforeLoop(async () => {
      await new Promise((r) => setTimeout(r, 2_000));
      events.push(`ready@${sinceStart()}`);
    });
    void l.start();
    await tick(13_000);
    expect(events).toEqual(['ready@2000', 'run@2000', 'run@12000']);
  });

  it('an unhandled error calls onError, sets failed(), runs afterLoop and ends the loop', async () => {
    const bug = new TypeError('undefined is not a function');
    const l = make({ seconds: 1 }, (ctx) => {
      if (ctx.iteration === 2) throw bug;
    });
    const onError = vi.fn();
    const after = vi.fn(() => {
      expect(l.failed()).toBe(true);
    });
    const reasons: unknown[] = [];
    l.onError(onError).afterLoop(after);
    l.observe({ end: (reason, error) => reasons.push(reason, error) });
    await Promise.all([l.start(), tick(10_000)]);
    expect(onError).toHaveBeenCalledExactlyOnceWith(bug);
    expect(after).toHaveBeenCalledOnce();
    expect(l.currentLoop).toBe(2);
    expect(reasons).toEqual(['failed', bug]);
    expect(l.isRunning()).toBe(false);
  });

  it('logs unhandled errors with the loop name by default, and never rejects', async () => {
    const l = make({ seconds: 1, name: 'leaderboard' }, async () => {
      throw new Error('oops');
    });
    await expect(l.start()).resolves.toBeUndefined();
    expect(consoleError).toHaveBeenCalledWith(expect.stringContaining('"leaderboard"'), expect.any(Error));
    expect(l.failed()).toBe(true);
  });

  it('survives an error hook and an afterLoop that throw', async () => {
    const l = make({ seconds: 1 }, () => {
      throw new Error('first');
    });
    const seen: string[] = [];
    l.onError((error) => {
      seen.push((error as Error).message);
      throw new Error('hook broke');
    });
    l.afterLoop(async () => {
      throw new Error('after broke');
    });
    await l.start();
    expect(seen).toEqual(['first', 'after broke']);
    expect(consoleError).toHaveBeenCalledWith(expect.stringContaining('error hook threw'), expect.any(Error));
  });

  it('resets failed() on the next start', async () => {
    let fail = true;
    const l = make({ seconds: 1, count: 1 }, () => {
      if (fail) throw new Error('x');
    });
    await l.start();
    expect(l.failed()).toBe(true);
    fail = false;
    await l.start();
    expect(l.failed()).toBe(false);
  });
});

describe('handled errors and backoff', () => {
  it('retries a handled error with growing delays without advancing currentLoop, and resets after a success', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1); // jitter at its top: delays are exactly 1 s, 2 s, 4 s
    const attempts: [number, number][] = [];
    let failuresLeft = 3;
    const l = make({ minutes: 1 }, (ctx) => {
      attempts.push([ctx.iteration, sinceStart()]);
      if (failuresLeft-- > 0) throw networkError();
    });
    const outcomes: string[] = [];
    l.observe({ iterationEnd: (info) => outcomes.push(`${info.outcome} ${info.iteration}`) });
    void l.start();
    await tick(1);
    expect(l.currentLoop).toBe(0);
    expect(l.nextIteration?.getTime()).toBe(START + 1_000);
    await tick(7_000);
    expect(attempts).toEqual([
      [0, 0],
      [0, 1_000],
      [0, 3_000],
      [0, 7_000],
    ]);
    expect(l.currentLoop).toBe(1);
    // After the success the next slot is back on the grid.
    expect(l.nextIteration?.getTime()).toBe(START + 60_000);
    failuresLeft = 1;
    await tick(53_000);
    await tick(1_000);
    // The backoff starts again from 1 s after a success.
    expect(attempts.slice(4)).toEqual([
      [1, 60_000],
      [1, 61_000],
    ]);
    expect(outcomes).toEqual(['retried 0', 'retried 0', 'retried 0', 'ok 0', 'retried 1', 'ok 1']);
    expect(l.failed()).toBe(false);
  });

  it('retries an AbortError from a request that timed out (discord.js REST), and keeps running', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    let failuresLeft = 2;
    const l = make({ minutes: 1 }, () => {
      if (failuresLeft-- > 0) throw new DOMException('This operation was aborted', 'AbortError');
    });
    const outcomes: string[] = [];
    l.observe({ iterationEnd: (info) => outcomes.push(info.outcome) });
    void l.start();
    await tick(3_000);
    expect(outcomes).toEqual(['retried', 'retried', 'ok']);
    expect(l.isRunning()).toBe(true);
    expect(l.failed()).toBe(false);
    expect(l.currentLoop).toBe(1);
  });

  it('never retries the abort its own cancel() caused, even when fn rethrows it as a plain AbortError', async () => {
    const fn = vi.fn((ctx: LoopContext) => {
      return new Promise((_, reject) =>
        // As discord.js does: the request is aborted, and the error says nothing of why.
        ctx.signal.addEventListener('abort', () =>
          reject(new DOMException('This operation was aborted', 'AbortError')),
        ),
      );
    });
    const l = make({ seconds: 10 }, fn);
    const ends: IterationEndInfo[] = [];
    const reasons: string[] = [];
    l.observe({ iterationEnd: (info) => ends.push(info), end: (reason) => reasons.push(reason) });
    const done = l.start();
    await tick(500);
    l.cancel();
    await done;
    await tick(60_000);
    expect(fn).toHaveBeenCalledOnce();
    expect(ends.map((e) => [e.outcome, e.nextIteration])).toEqual([['cancelled', null]]);
    expect(reasons).toEqual(['cancelled']);
  });

  it('ends as cancelled, not retried, when fn cancels its own loop and then throws an abort', async () => {
    const fn = vi.fn(() => {
      l.cancel();
      throw new DOMException('This operation was aborted', 'AbortError');
    });
    const l: Loop = make({ seconds: 10 }, fn);
    const ends: IterationEndInfo[] = [];
    l.observe({ iterationEnd: (info) => ends.push(info) });
    await l.start();
    await tick(60_000);
    expect(fn).toHaveBeenCalledOnce();
    expect(ends.map((e) => e.outcome)).toEqual(['cancelled']);
    expect(l.failed()).toBe(false);
  });

  it('fails on a handled error when reconnect is false', async () => {
    const l = make({ seconds: 1, reconnect: false }, () => {
      throw networkError();
    });
    const onError = vi.fn();
    l.onError(onError);
    await l.start();
    expect(onError).toHaveBeenCalledOnce();
    expect(l.failed()).toBe(true);
  });

  it('stop() during a backoff wait ends the loop without another attempt', async () => {
    const fn = vi.fn(() => {
      throw networkError();
    });
    const l = make({ seconds: 1 }, fn);
    const done = l.start();
    await tick(1);
    l.stop();
    await done;
    expect(fn).toHaveBeenCalledOnce();
    expect(l.failed()).toBe(false);
  });

  it('does not retry when stop() came during the failed attempt', async () => {
    const l = make({ seconds: 1 }, async () => {
      await new Promise((r) => setTimeout(r, 100));
      throw networkError();
    });
    const ends: IterationEndInfo[] = [];
    l.observe({ iterationEnd: (info) => ends.push(info) });
    const done = l.start();
    await tick(50);
    l.stop();
    await tick(100);
    await done;
    expect(ends.map((e) => [e.outcome, e.nextIteration])).toEqual([['retried', null]]);
    expect(l.failed()).toBe(false);
  });

  it('manages exception types like discord.py, and only accepts Error classes', async () => {
    class QuotaError extends Error {}
    const l = make({ seconds: 1 }, () => {});
    expect(l.exceptionTypes).toEqual([TransientError]);
    l.addExceptionType(QuotaError, RangeError);
    expect(l.exceptionTypes).toEqual([TransientError, QuotaError, RangeError]);
    expect(l.removeExceptionType(RangeError)).toBe(true);
    expect(l.removeExceptionType(QuotaError, SyntaxError)).toBe(false);
    expect(l.exceptionTypes).toEqual([TransientError]);
    l.clearExceptionTypes();
    expect(l.exceptionTypes).toEqual([]);
    expect(() => l.addExceptionType('Error' as never)).toThrow(TypeError);
    expect(() => l.addExceptionType((() => {}) as never)).toThrow(
      /addExceptionType\(\) expects Error classes/,
    );
    expect(() => l.removeExceptionType(Object as never)).toThrow(TypeError);
  });

  it('retries an added type, and fails on a transient error once the defaults are cleared', async () => {
    class QuotaError extends Error {}
    let attempt = 0;
    const retried = make({ seconds: 10, count: 1 }, () => {
      if (attempt++ === 0) throw new QuotaError();
    });
    retried.addExceptionType(QuotaError);
    await Promise.all([retried.start(), tick(5_000)]);
    expect(retried.failed()).toBe(false);
    expect(attempt).toBe(2);

    const cleared = make({ seconds: 10 }, () => {
      throw networkError();
    });
    cleared.clearExceptionTypes();
    await cleared.start();
    expect(cleared.failed()).toBe(true);
  });
});

describe('changeInterval', () => {
  it('takes effect from the next iteration and recomputes nextIteration at once', async () => {
    const runs: number[] = [];
    const l = make({ seconds: 10 }, () => {
      runs.push(sinceStart());
    });
    void l.start();
    await tick(12_000);
    expect(l.nextIteration?.getTime()).toBe(START + 20_000);
    l.changeInterval({ seconds: 3 });
    // Anchored on the last iteration (10 s): 13 s is next.
    expect(l.nextIteration?.getTime()).toBe(START + 13_000);
    expect(l.schedule).toEqual({ kind: 'relative', intervalMs: 3_000 });
    await tick(8_000);
    expect(runs).toEqual([0, 10_000, 13_000, 16_000, 19_000]);
  });

  it('applies to the next iteration when called during one', async () => {
    const runs: number[] = [];
    const l = make({ seconds: 10 }, async (ctx) => {
      runs.push(sinceStart());
      if (ctx.iteration === 0) {
        l.changeInterval({ minutes: 1 });
        expect(l.nextIteration?.getTime()).toBe(START + 60_000);
      }
    });
    void l.start();
    await tick(70_000);
    expect(runs).toEqual([0, 60_000]);
  });

  it('switches a running loop to times of day', async () => {
    const runs: string[] = [];
    const l = make({ seconds: 10 }, () => {
      runs.push(new Date().toISOString());
    });
    void l.start();
    await tick(1);
    l.changeInterval({ time: '18:00', timeZone: 'Europe/Paris' });
    expect(l.nextIteration?.toISOString()).toBe('2025-01-06T17:00:00.000Z');
    await tick(86_400_000);
    expect(runs).toEqual(['2025-01-06T12:00:00.000Z', '2025-01-06T17:00:00.000Z']);
  });

  it('validates like loop() and leaves the schedule alone on error', () => {
    const l = make({ seconds: 10 }, () => {});
    expect(() => l.changeInterval({ seconds: -5 })).toThrow(/"seconds"/);
    expect(() => l.changeInterval({ time: [] })).toThrow(/"time"/);
    expect(() => l.changeInterval({ count: 3 } as never)).toThrow(/unknown option "count"/);
    expect(l.schedule).toEqual({ kind: 'relative', intervalMs: 10_000 });
  });
});

describe('validation at loop() time', () => {
  it.each([
    [{ seconds: -1 }, RangeError, /"seconds"/],
    [{ hours: Number.NaN }, RangeError, /"hours"/],
    [{ minutes: Number.POSITIVE_INFINITY }, RangeError, /"minutes"/],
    [{ minutes: 1, time: '09:00' }, TypeError, /"time"/],
    [{ time: '09:00', cron: '0 * * * *' }, TypeError, /"cron"/],
    [{ time: [] }, RangeError, /"time"/],
    [{ time: '9h' }, RangeError, /"time"/],
    [{ time: '09:00', timeZone: 'Nowhere/Atlantis' }, RangeError, /"timeZone"/],
    [{ cron: '61 * * * *' }, RangeError, /"cron"/],
    [{ seconds: 1, count: 0 }, RangeError, /"count"/],
    [{ seconds: 1, count: 1.5 }, RangeError, /"count"/],
    [{ seconds: 1, count: -3 }, RangeError, /"count"/],
    [{ seconds: 1, reconnect: 'yes' }, TypeError, /"reconnect"/],
    [{ secs: 1 }, TypeError, /unknown loop option "secs"/],
  ])('rejects %j', (options, type, message) => {
    expect(() => loop(options as LoopOptions, () => {})).toThrow(type);
    expect(() => loop(options as LoopOptions, () => {})).toThrow(message);
  });

  it('exposes name, count and the normalized schedule', () => {
    function refreshBoard() {}
    const l = loop({ time: ['21:30', '09:00'], timeZone: 'Europe/Paris', count: 4 }, refreshBoard);
    expect(l.name).toBe('refreshBoard');
    expect(l.count).toBe(4);
    expect(l.schedule).toEqual({
      kind: 'time',
      timeZone: 'Europe/Paris',
      times: [
        { hour: 9, minute: 0, second: 0 },
        { hour: 21, minute: 30, second: 0 },
      ],
    });
    expect(loop({ seconds: 1, name: 'ticker' }, () => {}).name).toBe('ticker');
    expect(loop({ seconds: 1 }, () => {}).count).toBeNull();
  });
});

describe('times of day and cron', () => {
  it('runs a time list across midnight at each listed time', async () => {
    vi.setSystemTime(Date.parse('2025-01-06T23:00:00Z'));
    const runs: string[] = [];
    const l = make({ time: ['00:01', '23:59'] }, (ctx) => {
      expect(Date.now()).toBe(ctx.scheduledAt.getTime());
      runs.push(ctx.scheduledAt.toISOString());
    });
    void l.start();
    expect(l.nextIteration?.toISOString()).toBe('2025-01-06T23:59:00.000Z');
    await tick(25 * 3_600_000);
    expect(runs).toEqual([
      '2025-01-06T23:59:00.000Z',
      '2025-01-07T00:01:00.000Z',
      '2025-01-07T23:59:00.000Z',
    ]);
  });

  it("runs a spring-forward gap time once, shifted forward by the gap's length (America/New_York)", async () => {
    vi.setSystemTime(Date.parse('2025-03-08T12:00:00Z'));
    const runs: string[] = [];
    const l = make({ time: '02:30', timeZone: 'America/New_York' }, (ctx) => {
      runs.push(ctx.scheduledAt.toISOString());
    });
    void l.start();
    await tick(3 * 86_400_000);
    expect(runs).toEqual([
      '2025-03-09T07:30:00.000Z', // 03:30 EDT
      '2025-03-10T06:30:00.000Z',
      '2025-03-11T06:30:00.000Z',
    ]);
  });

  it('runs a fall-back overlap time once (Australia/Lord_Howe, 30-minute shift)', async () => {
    vi.setSystemTime(Date.parse('2025-04-05T00:00:00Z'));
    const runs: string[] = [];
    const l = make({ time: '01:45', timeZone: 'Australia/Lord_Howe' }, (ctx) => {
      runs.push(ctx.scheduledAt.toISOString());
    });
    void l.start();
    await tick(2 * 86_400_000);
    expect(runs).toEqual(['2025-04-05T14:45:00.000Z', '2025-04-06T15:15:00.000Z']);
  });

  it('runs a cron expression in its time zone', async () => {
    vi.setSystemTime(Date.parse('2025-01-06T07:00:00Z'));
    const runs: string[] = [];
    const l = make({ cron: '30 9 * * 1-5', timeZone: 'Europe/Paris' }, (ctx) => {
      runs.push(ctx.scheduledAt.toISOString());
    });
    void l.start();
    await tick(7 * 86_400_000);
    // Monday 6 Jan to Friday 10 Jan at 09:30 Paris (08:30 UTC); no weekend runs.
    expect(runs).toEqual([
      '2025-01-06T08:30:00.000Z',
      '2025-01-07T08:30:00.000Z',
      '2025-01-08T08:30:00.000Z',
      '2025-01-09T08:30:00.000Z',
      '2025-01-10T08:30:00.000Z',
    ]);
  });
});

describe('resume', () => {
  it('continues the count and runs the first iteration at firstDueAt, then on its grid', async () => {
    const runs: [number, number][] = [];
    const l = make({ seconds: 30, count: 7 }, (ctx) => {
      runs.push([ctx.iteration, ctx.scheduledAt.getTime() - START]);
    });
    const done = l.resume({ currentLoop: 5, firstDueAt: new Date(START + 10_000) });
    expect(l.currentLoop).toBe(5);
    await tick(0);
    expect(l.nextIteration?.getTime()).toBe(START + 10_000);
    await tick(100_000);
    await done;
    expect(runs).toEqual([
      [5, 10_000],
      [6, 40_000],
    ]);
    expect(l.currentLoop).toBe(7);
  });

  it('catches up a missed slot now (scheduledAt stays the missed slot) and skips the rest of the past grid', async () => {
    const runs: [number, number][] = [];
    const l = make({ minutes: 1 }, (ctx) => {
      runs.push([ctx.scheduledAt.getTime() - START, sinceStart()]);
    });
    void l.resume({ currentLoop: 2, firstDueAt: START - 150_000 });
    await tick(60_000);
    expect(runs).toEqual([
      [-150_000, 0],
      [30_000, 30_000],
    ]);
  });

  it('completes at once when the count was already reached', async () => {
    const fn = vi.fn();
    const l = make({ seconds: 1, count: 3 }, fn);
    const reasons: string[] = [];
    l.observe({ end: (reason) => reasons.push(reason) });
    await l.resume({ currentLoop: 3 });
    expect(fn).not.toHaveBeenCalled();
    expect(reasons).toEqual(['completed']);
  });

  it('validates the resume state', () => {
    const l = make({ seconds: 1 }, () => {});
    expect(() => l.resume({ currentLoop: -1 })).toThrow(/"currentLoop"/);
    expect(() => l.resume({ currentLoop: 1, firstDueAt: new Date('nope') })).toThrow(/"firstDueAt"/);
    expect(l.isRunning()).toBe(false);
  });
});

describe('observe', () => {
  it('reports every attempt and the end of the run', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    let attempt = 0;
    const l = make({ seconds: 10, count: 2 }, async () => {
      attempt++;
      await new Promise((r) => setTimeout(r, 100));
      if (attempt === 2) throw networkError();
    });
    const events: unknown[] = [];
    l.observe({
      iterationStart: (info) =>
        events.push([
          'start',
          info.iteration,
          info.scheduledAt.getTime() - START,
          info.startedAt.getTime() - START,
        ]),
      iterationEnd: (info) =>
        events.push([
          info.outcome,
          info.iteration,
          info.scheduledAt.getTime() - START,
          info.startedAt.getTime() - START,
          info.finishedAt.getTime() - START,
          info.nextIteration && info.nextIteration.getTime() - START,
          info.error && (info.error as Error).message,
        ]),
      end: (reason) => events.push(['end', reason]),
    });
    await Promise.all([l.start(), tick(30_000)]);
    expect(events).toEqual([
      ['start', 0, 0, 0],
      ['ok', 0, 0, 0, 100, 10_000, undefined],
      ['start', 1, 10_000, 10_000],
      ['retried', 1, 10_000, 10_000, 10_100, 11_100, 'socket hang up'],
      ['start', 1, 10_000, 11_100],
      ['ok', 1, 10_000, 11_100, 11_200, null, undefined],
      ['end', 'completed'],
    ]);
  });

  it('reports a fatal error with its error, and keeps running when an observer throws', async () => {
    const l = make({ seconds: 1 }, (ctx) => {
      if (ctx.iteration === 1) throw new Error('fatal');
    });
    const outcomes: string[] = [];
    l.observe({
      iterationStart: () => {
        throw new Error('observer bug');
      },
      iterationEnd: async () => {
        throw new Error('async observer bug');
      },
    });
    const unsubscribe = l.observe({
      iterationEnd: (info) => outcomes.push(`${info.outcome} ${String(info.error ?? '')}`),
    });
    await Promise.all([l.start(), tick(5_000)]);
    expect(outcomes).toEqual(['ok ', 'error Error: fatal']);
    expect(consoleError).toHaveBeenCalledWith(expect.stringContaining('observer'), expect.any(Error));
    unsubscribe();
    unsubscribe();
    l.clearExceptionTypes();
    await Promise.all([l.start(), tick(5_000)]);
    expect(outcomes).toHaveLength(2);
  });
});

describe('the shared timer queue', () => {
  it('keeps 1,000 loops on one setTimeout and fires each on time', async () => {
    const lateness: number[] = [];
    const loops = Array.from({ length: 1_000 }, (_, i) =>
      make({ seconds: 1 + (i % 7) }, (ctx) => {
        lateness.push(Date.now() - ctx.scheduledAt.getTime());
      }),
    );
    for (const l of loops) void l.start();
    await tick(0);
    expect(sharedTimerQueue.size).toBe(1_000);
    expect(vi.getTimerCount()).toBe(1);
    await tick(7_000);
    expect(vi.getTimerCount()).toBe(1);
    expect(loops.reduce((sum, l) => sum + l.currentLoop, 0)).toBe(
      loops.reduce((sum, _, i) => sum + 1 + Math.floor(7 / (1 + (i % 7))), 0),
    );
    expect(Math.max(...lateness)).toBe(0);
    for (const l of loops) l.stop();
    await tick(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('types', () => {
  it('infers the start arguments from the callback (checked by tsc)', async () => {
    const typed = make({ seconds: 1, count: 1 }, (channel: string, n: number, ctx: LoopContext) => {
      expect([channel, n, ctx.iteration]).toEqual(['x', 1, 0]);
    });
    await typed.start('x', 1);
    expect([typed.currentLoop, typed.failed()]).toEqual([1, false]); // the callback ran, its expect passed
    // @ts-expect-error wrong argument types
    expect(() => typed.start(1, 'x')).not.toThrow();
    typed.cancel();
    const bare = make({ seconds: 1 }, () => {});
    // @ts-expect-error no arguments expected
    void bare.start('x');
    const ctxOnly = make({ seconds: 1, count: 1 }, (ctx) => ctx.signal.aborted);
    await ctxOnly.resume({ currentLoop: 0 });
    expect([ctxOnly.currentLoop, ctxOnly.failed()]).toEqual([1, false]);
  });
});

describe('many loops due at once', () => {
  it('runs at most MAX_FIRES_PER_TURN already-due first slots in microtasks; the rest wait their turn', async () => {
    const total = MAX_FIRES_PER_TURN + 500;
    const ran: number[] = [];
    const loops = Array.from({ length: total }, (_, i) =>
      make({ seconds: 60 }, () => {
        ran.push(i);
      }),
    );
    for (const l of loops) void l.start();
    await Promise.resolve(); // microtasks only: no timer has run
    expect(ran.length).toBe(MAX_FIRES_PER_TURN);
    await tick(0); // the other 500 were queued, due now: the queue's next turn runs them, in order
    expect(ran).toEqual(loops.map((_, i) => i));
    expect(Date.now()).toBe(START);
    expect(loops.every((l) => l.currentLoop === 1)).toBe(true);
  });
});

describe('a one-off (at)', () => {
  it('runs once at its instant, then completes without being asked to stop', async () => {
    const seen: number[] = [];
    const l = make({ at: START + 5_000 }, (ctx) => {
      seen.push(ctx.scheduledAt.getTime());
    });
    const reasons: string[] = [];
    l.observe({ end: (reason) => reasons.push(reason) });
    const ended = l.start();
    expect(l.nextIteration?.getTime()).toBe(START + 5_000);
    await tick(4_999);
    expect(seen).toEqual([]);
    await tick(1);
    await ended;
    expect(reasons).toEqual(['completed']);
    expect(seen).toEqual([START + 5_000]);
    expect(l.isRunning()).toBe(false);
    expect(l.nextIteration).toBeNull();
  });

  it('runs an instant already past at once, once', async () => {
    let calls = 0;
    const l = make({ at: START - 60_000 }, () => {
      calls++;
    });
    const reasons: string[] = [];
    l.observe({ end: (reason) => reasons.push(reason) });
    await l.start();
    expect(reasons).toEqual(['completed']);
    expect(calls).toBe(1);
  });

  it('missed by a clock jump without catch-up: completes and reports the slot missed with no next one', async () => {
    let calls = 0;
    const missed: (Date | null)[] = [];
    const l = make({ at: START + 60_000 }, () => {
      calls++;
    });
    const reasons: string[] = [];
    l.observe({
      slotMissed: (info) => missed.push(info.nextIteration),
      end: (reason) => reasons.push(reason),
    });
    const ended = l.start();
    vi.setSystemTime(START + 60 * 60_000); // the wall clock jumps an hour past the instant
    await tick(60_000);
    await ended;
    expect(reasons).toEqual(['completed']);
    expect(calls).toBe(0);
    expect(missed).toEqual([null]);
  });
});
