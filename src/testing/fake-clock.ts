// The testbed's clock: vitest's fake timers, moved one timer at a time, with the bot's real I/O let finish
// between steps. One big vi.advanceTimersByTimeAsync would jump past a request still on its way to the
// emulator and fire its timeout (discord.js arms it with setTimeout, which is fake here), so a run would fail
// in the test that never fails against Discord.
import { vi } from 'vitest';

/** What is still going on outside the fake clock: runs of the handlers under test, requests to Discord. */
export class WorkInFlight {
  #count = 0;
  #idle: (() => void)[] = [];

  get count(): number {
    return this.#count;
  }

  /** Counts `work` while it runs. */
  async track<T>(work: () => Promise<T>): Promise<T> {
    this.#count++;
    try {
      return await work();
    } finally {
      this.#count--;
      if (this.#count === 0) for (const wake of this.#idle.splice(0)) wake();
    }
  }

  /** Resolves once nothing is in flight, or with false after `boundMs` of real time. */
  idle(boundMs: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      // A real timer (vitest keeps the originals; setImmediate is never faked here): the fake one stands still.
      const timer = realTimeout(() => {
        this.#idle = this.#idle.filter((wake) => wake !== done);
        resolve(false);
      }, boundMs);
      const done = () => {
        clearRealTimeout(timer);
        resolve(true);
      };
      this.#idle.push(done);
    });
  }
}

/** The timers the testbed fakes: `performance` too, as the loop engine measures waits on the monotonic clock. */
export const FAKED = ['setTimeout', 'clearTimeout', 'Date', 'performance'] as const;

/**
 * How long a run may stay in flight before the clock moves anyway: it may be waiting on the fake clock
 * itself (a sleep inside run()), which only moving it can end. Long enough for slow local I/O on a busy machine.
 */
export const IN_FLIGHT_BOUND_MS = 5_000;

/**
 * Moves the fake clock `ms` forward: to each timer due before then in turn, letting the work in flight finish
 * after each (up to IN_FLIGHT_BOUND_MS), and ends exactly `ms` later.
 */
export async function advanceClock(ms: number, work: WorkInFlight): Promise<void> {
  let reached = false;
  // A timer of our own at the target: the steps below never pass it, and its firing says the target is reached.
  setTimeout(() => {
    reached = true;
  }, ms);
  await settle(work);
  while (!reached) {
    // The next timer, and every other due at the same instant.
    await vi.advanceTimersToNextTimerAsync();
    await settle(work);
  }
  // Timers due at the target itself that were armed after ours (a task parked on the way, say).
  await vi.advanceTimersByTimeAsync(0);
  await settle(work);
}

/** Lets callbacks of the last step run (their promises, their I/O), then waits for the work in flight. */
export async function settle(work: WorkInFlight): Promise<void> {
  // Two turns of the event loop: a fired slot reaches its handler through a few promise hops and a batched write.
  await nextTurn();
  await nextTurn();
  await work.idle(IN_FLIGHT_BOUND_MS);
  if (work.count === 0) await nextTurn();
}

/** `promise`, or a rejection with `message` after `boundMs` of real time (the fake clock may never get there). */
export function withinRealTime<T>(promise: Promise<T>, boundMs: number, message: string): Promise<T> {
  let timer: ReturnType<typeof realTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = realTimeout(() => reject(new Error(message)), boundMs);
  });
  return Promise.race([promise, bound]).finally(() => clearRealTimeout(timer));
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// The real timers, saved before any test fakes them.
const realTimeout = globalThis.setTimeout.bind(globalThis);
const clearRealTimeout = globalThis.clearTimeout.bind(globalThis);
