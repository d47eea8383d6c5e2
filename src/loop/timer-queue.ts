// One setTimeout for every loop in the process: a min-heap of due instants with a single timer armed for
// the earliest. 100,000 waiting loops cost 100,000 small heap entries, not 100,000 Node timers.
// Time is read through the globals at call time so vi.useFakeTimers() can drive it.

/** Node's setTimeout limit; longer waits are armed in chunks and re-armed when the chunk ends. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * Node's timers run on libuv's millisecond clock, which trails Date.now() by a fraction of a millisecond,
 * so a timer often fires just before Date.now() reaches its due instant. Re-arming then costs a whole extra
 * timer turn (1-2 ms late); firing entries due within this margin instead keeps the error under a millisecond.
 */
export const EARLY_MARGIN_MS = 1;

/** At most this many entries fire in one turn of the event loop; the rest fire in the next turns. */
export const MAX_FIRES_PER_TURN = 1_000;
/** A turn also ends once its callbacks have run this long, whatever their number. */
export const MAX_TURN_MS = 10;

/**
 * A waiting entry: subclass it and implement `fire`. The owner reuses one entry across waits (a loop's run
 * is its own entry), so scheduling allocates nothing and a waiting loop holds no closure.
 */
export abstract class TimerEntry {
  dueMs = 0;
  /** Position in the heap, or -1 when not queued. */
  heapIndex = -1;
  /** Insertion order, so entries due at the same instant fire first-in first-out. */
  seq = 0;

  abstract fire(): void;
}

export class TimerQueue {
  readonly #heap: TimerEntry[] = [];
  #seq = 0;
  #handle: ReturnType<typeof setTimeout> | undefined;
  #armedDueMs = Number.POSITIVE_INFINITY;
  #draining = false;

  get size(): number {
    return this.#heap.length;
  }

  /** Queues `entry` for `dueMs`, moving it if it is already queued. */
  schedule(entry: TimerEntry, dueMs: number): void {
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

  /** Removes `entry` if queued; returns whether it was. */
  cancel(entry: TimerEntry): boolean {
    const index = entry.heapIndex;
    if (index === -1) return false;
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

  /**
   * Fires what is due, oldest first, but at most MAX_FIRES_PER_TURN entries or MAX_TURN_MS of work per turn
   * of the event loop: 100,000 entries due in the same second would otherwise run in one turn, stalling I/O
   * (a gateway heartbeat, say) for seconds and piling every iteration's garbage up at once. What is left stays
   * in the heap, so it still fires in due order, from a 0 ms timer armed by #arm() in the next turn.
   * A timer rather than setImmediate: Node runs a timer armed inside a timer callback only after the poll
   * phase, so pending I/O goes first either way, and time stays read through setTimeout alone (DESIGN.md).
   */
  #fireDue = (): void => {
    this.#handle = undefined;
    this.#armedDueMs = Number.POSITIVE_INFINITY;
    this.#draining = true;
    const horizonMs = Date.now() + EARLY_MARGIN_MS;
    // Entries queued by the callbacks below (seq >= firstNewSeq) fire in a later turn, even when already due:
    // a back-to-back loop yields to the event loop instead of starving everything else.
    const firstNewSeq = this.#seq;
    const deadlineMs = Date.now() + MAX_TURN_MS;
    const heap = this.#heap;
    try {
      for (let fired = 0; fired < MAX_FIRES_PER_TURN && heap.length > 0; fired++) {
        const head = heap[0]!;
        if (head.dueMs > horizonMs || head.seq >= firstNewSeq) break;
        // The clock is read every 16 entries: cheap as it is, a read per entry would show in profiles.
        if ((fired & 15) === 15 && Date.now() >= deadlineMs) break;
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
    }
  };

  #arm(): void {
    if (this.#draining || this.#heap.length === 0) return;
    const dueMs = this.#heap[0]!.dueMs;
    if (this.#handle !== undefined && this.#armedDueMs <= dueMs) return;
    this.#disarm();
    const delayMs = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, dueMs - Date.now()));
    this.#armedDueMs = dueMs;
    this.#handle = globalThis.setTimeout(this.#fireDue, delayMs);
  }

  #disarm(): void {
    if (this.#handle !== undefined) globalThis.clearTimeout(this.#handle);
    this.#handle = undefined;
    this.#armedDueMs = Number.POSITIVE_INFINITY;
  }

  #popMin(): TimerEntry {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    top.heapIndex = -1;
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
