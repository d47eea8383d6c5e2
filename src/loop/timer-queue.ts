// One timer for every loop in the process: a min-heap of due instants with a single timer armed for the
// earliest. 100,000 waiting loops cost 100,000 small heap entries, not 100,000 Node timers.
// The heap is keyed on the monotonic clock (clock.ts), so a wall-clock jump neither stretches nor shortens
// a wait. Entries that wait for a wall-clock instant (a time of day, a cron slot) are re-keyed when the
// queue sees the wall clock jump, and the queue looks at least every WALL_CHECK_MS while any are queued.
import { CLOCK_JITTER_MS, clock } from './clock.js';

/** Node's setTimeout limit; longer waits are armed in chunks and re-armed when the chunk ends. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * Node's timers run on libuv's millisecond loop clock, which lags the real time, so a timer often fires a
 * fraction of a millisecond before its instant. Re-arming a timer then costs a whole extra timer turn
 * (1-2 ms late); instead the last stretch of at most this long is closed with setImmediate checks.
 */
export const SPIN_WINDOW_MS = 1;

/**
 * While entries wait for wall-clock instants, the queue re-reads the wall clock at least this often, so a
 * jump (NTP step, VM resume) is seen within this long. One timer for the whole queue, not one per entry.
 */
export const WALL_CHECK_MS = 30_000;

/** At most this many entries fire in one turn of the event loop; the rest fire in the next turns. */
export const MAX_FIRES_PER_TURN = 1_000;
/** A turn also ends once its callbacks have run this long, whatever their number. */
export const MAX_TURN_MS = 10;

/**
 * A waiting entry: subclass it and implement `fire`. The owner reuses one entry across waits (a loop's run
 * is its own entry), so scheduling allocates nothing and a waiting loop holds no closure.
 */
export abstract class TimerEntry {
  /** The monotonic instant (clock.monoMs()) it fires at. */
  dueMs = 0;
  /** Position in the heap, or -1 when not queued. */
  heapIndex = -1;
  /** Insertion order, so entries due at the same instant fire first-in first-out. */
  seq = 0;
  /** The wall-clock instant it waits for when queued by scheduleWall(); null for a plain duration. */
  wallDueMs: number | null = null;

  abstract fire(): void;
}

export class TimerQueue {
  readonly #heap: TimerEntry[] = [];
  #seq = 0;
  #handle: ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate> | undefined;
  #handleIsImmediate = false;
  /** The monotonic instant the armed timer fires at. */
  #armedDueMs = Number.POSITIVE_INFINITY;
  #draining = false;
  #wallEntries = 0;
  /** clock.offsetMs() when the wall entries were keyed; a change beyond CLOCK_JITTER_MS is a clock jump. */
  #wallOffsetMs = 0;
  /** The monotonic reading of the last setImmediate check (see #arm). */
  #lastSpinMs = Number.NaN;
  /** While #fireDue runs: the head's instant if the wake came before it; NaN otherwise. */
  #earlyForMs = Number.NaN;

  get size(): number {
    return this.#heap.length;
  }

  /** Queues `entry` to fire once the monotonic clock reaches `dueMs`, moving it if it is already queued. */
  schedule(entry: TimerEntry, dueMs: number): void {
    this.#setWall(entry, null);
    this.#place(entry, dueMs);
  }

  /**
   * Queues `entry` to fire once Date.now() reaches `wallDueMs`: keyed on the monotonic clock through
   * clock.offsetMs(), never before that instant, and moved when the wall clock is stepped (see #checkClock).
   */
  scheduleWall(entry: TimerEntry, wallDueMs: number): void {
    if (this.#wallEntries === 0) this.#wallOffsetMs = clock.offsetMs();
    else this.#checkClock();
    this.#setWall(entry, wallDueMs);
    this.#place(entry, wallDueMs - this.#wallOffsetMs);
  }

  /** Removes `entry` if queued; returns whether it was. */
  cancel(entry: TimerEntry): boolean {
    const index = entry.heapIndex;
    if (index === -1) return false;
    this.#setWall(entry, null);
    const last = this.#heap.pop()!;
    entry.heapIndex = -1;
    if (last !== entry) {
      this.#heap[index] = last;
      last.heapIndex = index;
      this.#siftUp(index);
      this.#siftDown(last.heapIndex);
    }
    // The armed timer may now be early or orphaned; an early fire just re-arms, so only clear when empty.
    if (this.#heap.length === 0) this.#disarm();
    return true;
  }

  #place(entry: TimerEntry, dueMs: number): void {
    entry.dueMs = dueMs;
    entry.seq = this.#seq++;
    if (entry.heapIndex === -1) {
      entry.heapIndex = this.#heap.length;
      this.#heap.push(entry);
      this.#siftUp(entry.heapIndex);
    } else {
      this.#siftUp(entry.heapIndex);
      this.#siftDown(entry.heapIndex);
    }
    this.#arm();
  }

  /** Sets what `entry` waits for, keeping #wallEntries the number of queued entries that wait for the wall. */
  #setWall(entry: TimerEntry, wallDueMs: number | null): void {
    if (entry.heapIndex !== -1 && entry.wallDueMs !== null) this.#wallEntries--;
    entry.wallDueMs = wallDueMs;
    if (wallDueMs !== null) this.#wallEntries++; // #place queues it right after
  }

  /** After a wall-clock jump, moves every wall entry to the monotonic instant its wall instant now maps to. */
  #checkClock(): void {
    const offsetMs = clock.offsetMs();
    if (Math.abs(offsetMs - this.#wallOffsetMs) <= CLOCK_JITTER_MS) return;
    this.#wallOffsetMs = offsetMs;
    const heap = this.#heap;
    for (const entry of heap) {
      if (entry.wallDueMs !== null) entry.dueMs = entry.wallDueMs - offsetMs;
    }
    for (let index = (heap.length >> 1) - 1; index >= 0; index--) this.#siftDown(index);
    this.#disarm(); // the head may now be later than the armed timer; #arm picks the new one
  }

  /**
   * Fires what is due, oldest first, but at most MAX_FIRES_PER_TURN entries or MAX_TURN_MS of work per turn
   * of the event loop: 100,000 entries due in the same second would otherwise run in one turn, stalling I/O
   * (a gateway heartbeat, say) for seconds and piling every iteration's garbage up at once. What is left stays
   * in the heap, so it still fires in due order, from a 0 ms timer armed by #arm() in the next turn.
   * A timer rather than setImmediate for that backlog: Node runs a timer armed inside a timer callback only
   * after the poll phase, so pending I/O goes first.
   */
  #fireDue = (): void => {
    const armedForMs = this.#armedDueMs;
    this.#handle = undefined;
    this.#armedDueMs = Number.POSITIVE_INFINITY;
    this.#draining = true;
    const nowMs = clock.monoMs();
    if (this.#wallEntries > 0) this.#checkClock();
    // Entries queued by the callbacks below (seq >= firstNewSeq) fire in a later turn, even when already due:
    // a back-to-back loop yields to the event loop instead of starving everything else.
    const firstNewSeq = this.#seq;
    const deadlineMs = nowMs + MAX_TURN_MS;
    const heap = this.#heap;
    try {
      for (let fired = 0; fired < MAX_FIRES_PER_TURN && heap.length > 0; fired++) {
        const head = heap[0]!;
        // Never early: an entry fires only once its instant has come.
        if (head.dueMs > nowMs) {
          // Woken for this instant but before it: libuv's loop clock lags performance.now().
          if (head.dueMs <= armedForMs) this.#earlyForMs = head.dueMs;
          break;
        }
        if (head.seq >= firstNewSeq) break;
        // The clock is read every 16 entries: cheap as it is, a read per entry would show in profiles.
        if ((fired & 15) === 15 && clock.monoMs() >= deadlineMs) break;
        this.#popMin();
        try {
          head.fire();
        } catch (error) {
          console.error('timer queue: a callback threw', error);
        }
      }
    } finally {
      this.#draining = false;
      this.#arm();
      this.#earlyForMs = Number.NaN;
    }
  };

  #arm(): void {
    if (this.#draining || this.#heap.length === 0) return;
    const dueMs = this.#heap[0]!.dueMs;
    const nowMs = clock.monoMs();
    const checkByMs = this.#wallEntries > 0 ? nowMs + WALL_CHECK_MS : Number.POSITIVE_INFINITY;
    if (this.#handle !== undefined && this.#armedDueMs <= dueMs && this.#armedDueMs <= checkByMs) return;
    this.#disarm();
    const wakeMs = Math.min(dueMs, checkByMs);
    const delayMs = wakeMs - nowMs;
    this.#armedDueMs = wakeMs;
    // Woken before the instant it was armed for: close the gap with a check right after this turn's I/O
    // rather than another timer turn. Only then: spinning towards every instant less than a millisecond away
    // would keep a core busy when slots are a millisecond apart. Not when the clock has not moved since the
    // last check either (fake timers stand still): only a timer can advance it.
    const earlyWake = dueMs === this.#earlyForMs && wakeMs === dueMs;
    if (earlyWake && delayMs <= SPIN_WINDOW_MS && nowMs !== this.#lastSpinMs) {
      this.#lastSpinMs = nowMs;
      this.#handleIsImmediate = true;
      this.#handle = globalThis.setImmediate(this.#fireDue);
      return;
    }
    this.#handleIsImmediate = false;
    // Whole milliseconds, rounded up: Node would round a fractional delay down and wake early.
    const timerMs = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, Math.ceil(delayMs)));
    this.#handle = globalThis.setTimeout(this.#fireDue, timerMs);
  }

  #disarm(): void {
    if (this.#handle !== undefined) {
      if (this.#handleIsImmediate) globalThis.clearImmediate(this.#handle as ReturnType<typeof setImmediate>);
      else globalThis.clearTimeout(this.#handle as ReturnType<typeof setTimeout>);
    }
    this.#handle = undefined;
    this.#armedDueMs = Number.POSITIVE_INFINITY;
  }

  #popMin(): TimerEntry {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    top.heapIndex = -1;
    if (top.wallDueMs !== null) this.#wallEntries--; // stays set: the owner reads which instant fired
    if (last !== top) {
      heap[0] = last;
      last.heapIndex = 0;
      this.#siftDown(0);
    }
    return top;
  }

  #before(a: TimerEntry, b: TimerEntry): boolean {
    return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.seq < b.seq);
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!this.#before(entry, parent)) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.heapIndex = index;
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    const length = heap.length;
    const entry = heap[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.#before(heap[right]!, heap[left]!) ? right : left;
      if (!this.#before(heap[child]!, entry)) break;
      heap[index] = heap[child]!;
      heap[index]!.heapIndex = index;
      index = child;
    }
    heap[index] = entry;
    entry.heapIndex = index;
  }
}

/** The queue every loop shares. */
export const sharedTimerQueue = new TimerQueue();
