import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clock } from '../../src/loop/clock.js';
import {
  MAX_FIRES_PER_TURN,
  MAX_TIMER_DELAY_MS,
  TimerEntry,
  TimerQueue,
  WALL_CHECK_MS,
} from '../../src/loop/timer-queue.js';

class Recorder extends TimerEntry {
  constructor(
    readonly label: string,
    readonly log: string[],
  ) {
    super();
  }

  fire(): void {
    this.log.push(`${this.label}@${Date.now()}`);
  }
}

describe('TimerQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires entries in due order, same-instant entries first-in first-out, with one timer armed', async () => {
    const queue = new TimerQueue();
    const log: string[] = [];
    const entries = ['c', 'a', 'b', 'd'].map((label) => new Recorder(label, log));
    queue.schedule(entries[0]!, 300);
    queue.schedule(entries[1]!, 100);
    queue.schedule(entries[2]!, 100);
    queue.schedule(entries[3]!, 200);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(log).toEqual(['a@100', 'b@100', 'd@200', 'c@300']);
    expect(queue.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('moves and cancels entries, re-arming only for an earlier head', async () => {
    const queue = new TimerQueue();
    const log: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((label) => new Recorder(label, log)) as [
      Recorder,
      Recorder,
      Recorder,
    ];
    queue.schedule(a, 500);
    queue.schedule(b, 600);
    queue.schedule(c, 700);
    queue.schedule(c, 50); // moved to the front
    expect(queue.cancel(b)).toBe(true);
    expect(queue.cancel(b)).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(log).toEqual(['c@50', 'a@500']);
  });

  it('never fires an entry early, closing the last millisecond with setImmediate checks, not a timer', async () => {
    const queue = new TimerQueue();
    const log: string[] = [];
    const seen: number[] = [];
    // libuv's loop clock lags, so a timer may wake before performance.now() reaches its instant: here the
    // timer for 100 wakes when the monotonic clock reads 99.25, and the clock creeps on from there.
    const readings: number[] = [];
    vi.spyOn(clock, 'monoMs').mockImplementation(() => {
      const readMs = readings.shift() ?? performance.now();
      seen.push(readMs);
      return readMs;
    });
    queue.schedule(new Recorder('a', log), 100);
    readings.push(99.25, 99.5, 99.75, 99.9, 100, 100.1);
    seen.length = 0;
    const timers = vi.spyOn(globalThis, 'setTimeout');
    const immediates = vi.spyOn(globalThis, 'setImmediate');
    // Fake timers run an immediate queued inside a timer 1 ms later; Node runs it right after this turn's I/O.
    await vi.advanceTimersByTimeAsync(110);
    expect(log).toHaveLength(1);
    expect(seen.slice(0, 5)).toEqual([99.25, 99.5, 99.75, 99.9, 100]); // fired at the first reading >= 100
    expect(timers).not.toHaveBeenCalled();
    expect(immediates.mock.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('waits for the next instant with a timer, not by spinning, when it was not woken early', async () => {
    // Spinning towards every instant under a millisecond away would keep a core busy when slots are a
    // millisecond apart; only a timer that woke early is followed by setImmediate checks.
    const queue = new TimerQueue();
    const log: string[] = [];
    queue.schedule(new Recorder('a', log), 100);
    queue.schedule(new Recorder('b', log), 100.5);
    const immediates = vi.spyOn(globalThis, 'setImmediate');
    await vi.advanceTimersByTimeAsync(100);
    expect(log).toEqual(['a@100']);
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toEqual(['a@100', 'b@101']);
    expect(immediates).not.toHaveBeenCalled();
  });

  it('takes a timer turn instead of spinning when the clock stands still (fake timers)', async () => {
    const queue = new TimerQueue();
    const log: string[] = [];
    queue.schedule(new Recorder('a', log), 100.5); // fake timers truncate the delay and wake at 100
    await vi.advanceTimersByTimeAsync(100);
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toEqual(['a@101']);
  });

  it('keeps plain entries on the monotonic clock whatever the wall clock does', async () => {
    const queue = new TimerQueue();
    const log: string[] = [];
    queue.schedule(new Recorder('a', log), 60_000);
    vi.setSystemTime(-3_600_000); // an hour back
    await vi.advanceTimersByTimeAsync(60_000);
    expect(log).toEqual([`a@${-3_600_000 + 60_000}`]);
  });

  it('moves wall-clock entries with a jump of the wall clock, noticed within WALL_CHECK_MS', async () => {
    const queue = new TimerQueue();
    const log: string[] = [];
    const day = 86_400_000;
    queue.scheduleWall(new Recorder('tomorrow', log), day);
    queue.scheduleWall(new Recorder('in-an-hour', log), 3_600_000);
    queue.schedule(new Recorder('plain', log), 2 * WALL_CHECK_MS);
    // Forward past both wall instants: they fire at the next check, in wall order; the plain entry keeps its time.
    vi.setSystemTime(day + 5_000);
    await vi.advanceTimersByTimeAsync(WALL_CHECK_MS);
    expect(log).toEqual([
      `in-an-hour@${day + 5_000 + WALL_CHECK_MS}`,
      `tomorrow@${day + 5_000 + WALL_CHECK_MS}`,
    ]);
    await vi.advanceTimersByTimeAsync(WALL_CHECK_MS);
    expect(log.at(-1)).toBe(`plain@${day + 5_000 + 2 * WALL_CHECK_MS}`);
  });

  it('waits longer for a wall-clock entry after a backward jump, never firing before its instant', async () => {
    const queue = new TimerQueue();
    const log: string[] = [];
    queue.scheduleWall(new Recorder('noon', log), 3_600_000);
    await vi.advanceTimersByTimeAsync(1_800_000);
    vi.setSystemTime(0); // half an hour back: the instant is an hour away again
    await vi.advanceTimersByTimeAsync(3_600_000 - 1);
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toEqual(['noon@3600000']);
  });

  it('clears its timer when the last entry is cancelled', () => {
    const queue = new TimerQueue();
    const entry = new Recorder('x', []);
    queue.schedule(entry, 10_000);
    expect(vi.getTimerCount()).toBe(1);
    queue.cancel(entry);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('arms delays beyond 2^31-1 ms in chunks and fires on time', async () => {
    const queue = new TimerQueue();
    const log: string[] = [];
    const dueMs = MAX_TIMER_DELAY_MS * 2 + 5;
    queue.schedule(new Recorder('far', log), dueMs);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_DELAY_MS * 2);
    expect(log).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(5);
    expect(log).toEqual([`far@${dueMs}`]);
  });

  it('does not fire entries scheduled by a callback in the same drain', async () => {
    const queue = new TimerQueue();
    const log: string[] = [];
    const late = new Recorder('late', log);
    class Chain extends TimerEntry {
      fire(): void {
        log.push(`chain@${Date.now()}`);
        queue.schedule(late, performance.now()); // due now, but must wait for the next timer turn
        log.push(`queued ${queue.size}`);
      }
    }
    queue.schedule(new Chain(), 10);
    await vi.advanceTimersByTimeAsync(10);
    expect(log).toEqual(['chain@10', 'queued 1']);
    // Like Node, fake timers give a zero delay armed inside a timer callback 1 ms.
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toEqual(['chain@10', 'queued 1', 'late@11']);
  });

  it('splits a large due batch across turns of the event loop, still in due order', async () => {
    const queue = new TimerQueue();
    const fired: number[] = [];
    const turns: number[] = []; // entries fired by the end of each turn (a microtask runs after each turn)
    class Numbered extends TimerEntry {
      constructor(readonly n: number) {
        super();
      }
      fire(): void {
        if (fired.length % MAX_FIRES_PER_TURN === 0) queueMicrotask(() => turns.push(fired.length));
        fired.push(this.n);
      }
    }
    const total = 2 * MAX_FIRES_PER_TURN + 500;
    const half = total / 2;
    // Numbered in firing order: the first half due at 100, the second at 101. Queued alternately, so the
    // heap, not the insertion order, decides.
    const entries = Array.from({ length: total }, (_, n) => new Numbered(n));
    for (let i = 0; i < half; i++) {
      queue.schedule(entries[half + i]!, 101);
      queue.schedule(entries[i]!, 100);
    }

    await vi.advanceTimersByTimeAsync(100);
    expect(fired.length).toBe(MAX_FIRES_PER_TURN); // the first turn stops at the cap
    expect(queue.size).toBe(total - MAX_FIRES_PER_TURN);
    expect(vi.getTimerCount()).toBe(1); // one timer armed for the rest
    await vi.advanceTimersByTimeAsync(10);
    expect(fired).toEqual(entries.map((e) => e.n));
    expect(turns).toEqual([MAX_FIRES_PER_TURN, 2 * MAX_FIRES_PER_TURN, total]);
    expect(queue.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps going when a callback throws', async () => {
    const queue = new TimerQueue();
    const log: string[] = [];
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    class Boom extends TimerEntry {
      fire(): void {
        throw new Error('boom');
      }
    }
    queue.schedule(new Boom(), 10);
    queue.schedule(new Recorder('after', log), 10);
    await vi.advanceTimersByTimeAsync(10);
    expect(log).toEqual(['after@10']);
    expect(error).toHaveBeenCalledOnce();
  });
});
