// A new run never overlaps the callback of the run before it (issue 9, item 10): cancel() stops waiting for
// a callback that ignores its AbortSignal, but the next run's first iteration waits for it to settle.
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { type Loop, loop } from '../../src/loop/index.js';
import { sharedTimerQueue } from '../../src/loop/timer-queue.js';

const created: Loop<never[]>[] = [];
let consoleError: MockInstance<typeof console.error>;
const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A loop every 5 s whose callback sleeps 1 s and ignores its signal; records when each call runs. */
function stubborn() {
  let inFlight = 0;
  let mostInFlight = 0;
  const calls: { iteration: number; startedAt: number; endedAt?: number }[] = [];
  const l = loop({ seconds: 5 }, async (ctx) => {
    const call: { iteration: number; startedAt: number; endedAt?: number } = {
      iteration: ctx.iteration,
      startedAt: Date.now(),
    };
    calls.push(call);
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    await sleep(1_000); // ctx.signal is never read: cancel() cannot stop this
    inFlight--;
    call.endedAt = Date.now();
  });
  created.push(l as unknown as Loop<never[]>);
  return { l, calls, mostInFlight: () => mostInFlight };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
  consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
});

afterEach(async () => {
  for (const l of created.splice(0)) l.cancel();
  await tick(2_000); // abandoned callbacks settle
  expect(consoleError).not.toHaveBeenCalled();
  expect(sharedTimerQueue.size).toBe(0);
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('a new run and the callback of the run before it', () => {
  it('restart(); restart() starts the new first iteration only once the old callback has settled', async () => {
    const { l, calls, mostInFlight } = stubborn();
    void l.start();
    await tick(100);
    const first = l.restart();
    expect(l.restart()).toBe(first);
    await tick(500);
    expect(calls).toHaveLength(1); // the old callback still sleeps until 1,000
    expect(l.isRunning()).toBe(true);
    await tick(500);
    expect(calls.map((c) => [c.iteration, c.startedAt])).toEqual([
      [0, 0],
      [0, 1_000],
    ]);
    expect(calls[0]!.endedAt).toBe(1_000);
    await tick(5_000);
    expect(calls.map((c) => c.startedAt)).toEqual([0, 1_000, 6_000]); // the new grid starts at 1,000
    expect(mostInFlight()).toBe(1);
  });

  it('start() after cancel() waits for the cancelled callback too', async () => {
    const { l, calls, mostInFlight } = stubborn();
    void l.start();
    await tick(100);
    l.cancel();
    await tick(0);
    expect(l.isRunning()).toBe(false); // the run itself has ended: the callback was abandoned
    void l.start();
    await tick(899);
    expect(calls).toHaveLength(1);
    await tick(1);
    expect(calls.map((c) => c.startedAt)).toEqual([0, 1_000]);
    expect(mostInFlight()).toBe(1);
  });

  it('a run cancelled while it waits for the old callback ends at once and never calls the callback', async () => {
    const { l, calls } = stubborn();
    const ends: string[] = [];
    l.observe({ end: (reason) => ends.push(`${reason}@${Date.now()}`) });
    void l.start();
    await tick(100);
    l.cancel();
    await tick(0);
    const waiting = l.start();
    await tick(100);
    l.cancel();
    await waiting;
    expect(ends).toEqual(['cancelled@100', 'cancelled@200']);
    expect(calls).toHaveLength(1);
    // A later start still waits for the same callback, which settles at 1,000.
    void l.start();
    await tick(700);
    expect(calls).toHaveLength(1);
    await tick(100);
    expect(calls.map((c) => c.startedAt)).toEqual([0, 1_000]);
  });

  it('stop() while the new run waits ends it, without an iteration, once the old callback settles', async () => {
    const { l, calls } = stubborn();
    void l.start();
    await tick(100);
    const restarted = l.restart();
    await tick(0);
    l.stop();
    let endedAt = -1;
    void restarted.then(() => {
      endedAt = Date.now();
    });
    await tick(2_000);
    expect(endedAt).toBe(1_000);
    expect(calls).toHaveLength(1);
    expect(l.isRunning()).toBe(false);
  });

  it('does not wait for a callback that honoured its signal and settled', async () => {
    const calls: number[] = [];
    const l = loop({ seconds: 5 }, async (ctx) => {
      calls.push(Date.now());
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    });
    created.push(l as unknown as Loop<never[]>);
    void l.start();
    await tick(100);
    void l.restart();
    await tick(0);
    expect(calls).toEqual([0, 100]);
  });
});
