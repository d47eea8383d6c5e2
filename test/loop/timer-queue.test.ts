import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  EARLY_MARGIN_MS,
  MAX_FIRES_PER_TURN,
  MAX_TIMER_DELAY_MS,
  TimerEntry,
  TimerQueue,
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

  it('fires entries due within EARLY_MARGIN_MS with the earliest, since libuv wakes up to 1 ms early', async () => {
    const queue = new TimerQueue();
    const log: string[] = [];
    queue.schedule(new Recorder('a', log), 100);
    queue.schedule(new Recorder('b', log), 100 + EARLY_MARGIN_MS);
    queue.schedule(new Recorder('c', log), 102 + EARLY_MARGIN_MS);
    await vi.advanceTimersByTimeAsync(100);
    expect(log).toEqual(['a@100', 'b@100']);
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
        queue.schedule(late, Date.now()); // due now, but must wait for the next timer turn
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
    // Numbered in firing order: the first half due at 100, the second at 101 (within the early margin, so
    // the first turn could take both). Queued alternately, so the heap, not the insertion order, decides.
    const entries = Array.from({ length: total }, (_, n) => new Numbered(n));
    for (let i = 0; i < half; i++) {
      queue.schedule(entries[half + i]!, 100 + EARLY_MARGIN_MS);
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
