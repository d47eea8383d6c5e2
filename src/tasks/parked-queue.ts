// Waiting tasks, compactly: a min-heap of (due key, slot, task id, sequence) in one growable Float64Array,
// so 100,000 tasks between runs cost 32 bytes each (64 at most while the array has room to grow) instead of
// a Loop, its Run and their hooks (~1.5 KB). Entries are never searched for or removed: the owner knows
// each task's current slot and drops an entry that is no longer current when it comes out (stale).
// No timers here: the runtime arms one timer-queue entry for the head.

const STRIDE = 4;
const KEY = 0;
const SLOT = 1;
const TASK = 2;
const SEQ = 3;
const INITIAL_CAPACITY = 64;

/** What popEntry() hands back; one object reused by the queue, read before the next pop. */
export interface ParkedEntry {
  /** The instant the entry is ordered by (the monotonic or the wall clock: the owner decides). */
  keyMs: number;
  /** The wall-clock slot the task waits for. */
  slotMs: number;
  taskId: number;
  seq: number;
}

export class ParkedQueue {
  #data = new Float64Array(INITIAL_CAPACITY * STRIDE);
  #size = 0;
  readonly #popped: ParkedEntry = { keyMs: 0, slotMs: 0, taskId: 0, seq: 0 };

  get size(): number {
    return this.#size;
  }

  /** The smallest key, or Infinity when empty. */
  get headKeyMs(): number {
    return this.#size === 0 ? Number.POSITIVE_INFINITY : this.#data[KEY]!;
  }

  /** Bytes held by the queue's array (its capacity, not just its entries). */
  get bytes(): number {
    return this.#data.byteLength;
  }

  push(keyMs: number, slotMs: number, taskId: number, seq: number): void {
    if ((this.#size + 1) * STRIDE > this.#data.length) this.#grow();
    const data = this.#data;
    let index = this.#size++;
    // Sift up: move parents down until the new entry's place is found, then write it once.
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const p = parent * STRIDE;
      if (!before(keyMs, seq, data[p + KEY]!, data[p + SEQ]!)) break;
      move(data, p, index * STRIDE);
      index = parent;
    }
    write(data, index * STRIDE, keyMs, slotMs, taskId, seq);
  }

  /** Removes the head and returns it (a shared object), or undefined when empty. */
  popEntry(): ParkedEntry | undefined {
    if (this.#size === 0) return undefined;
    const data = this.#data;
    const popped = this.#popped;
    popped.keyMs = data[KEY]!;
    popped.slotMs = data[SLOT]!;
    popped.taskId = data[TASK]!;
    popped.seq = data[SEQ]!;
    const last = --this.#size * STRIDE;
    if (this.#size > 0)
      this.#siftDown(data[last + KEY]!, data[last + SLOT]!, data[last + TASK]!, data[last + SEQ]!);
    if (this.#size === 0 && this.#data.length > INITIAL_CAPACITY * STRIDE * 4) {
      this.#data = new Float64Array(INITIAL_CAPACITY * STRIDE); // a drained queue gives its memory back
    }
    return popped;
  }

  /** Keeps only the entries `keep` accepts (the owner's stale ones go), then restores heap order. */
  retain(keep: (taskId: number, slotMs: number) => boolean): void {
    const data = this.#data;
    let kept = 0;
    for (let index = 0; index < this.#size; index++) {
      const at = index * STRIDE;
      if (!keep(data[at + TASK]!, data[at + SLOT]!)) continue;
      data.copyWithin(kept * STRIDE, at, at + STRIDE);
      kept++;
    }
    const entries = data.slice(0, kept * STRIDE);
    this.#size = 0;
    // Re-pushed in array order: O(n log n) once per compaction, simpler than an in-place heapify.
    for (let index = 0; index < kept; index++) {
      const at = index * STRIDE;
      this.push(entries[at + KEY]!, entries[at + SLOT]!, entries[at + TASK]!, entries[at + SEQ]!);
    }
  }

  /** Empties the queue. */
  clear(): void {
    this.#size = 0;
    this.#data = new Float64Array(INITIAL_CAPACITY * STRIDE);
  }

  /** Places (key, slot, task, seq) from the root down, as the last entry moved to the root would be. */
  #siftDown(keyMs: number, slotMs: number, taskId: number, seq: number): void {
    const data = this.#data;
    const size = this.#size;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= size) break;
      let child = left;
      const right = left + 1;
      if (right < size) {
        const r = right * STRIDE;
        const l = left * STRIDE;
        if (before(data[r + KEY]!, data[r + SEQ]!, data[l + KEY]!, data[l + SEQ]!)) child = right;
      }
      const c = child * STRIDE;
      if (!before(data[c + KEY]!, data[c + SEQ]!, keyMs, seq)) break;
      move(data, c, index * STRIDE);
      index = child;
    }
    write(data, index * STRIDE, keyMs, slotMs, taskId, seq);
  }

  #grow(): void {
    const grown = new Float64Array(this.#data.length * 2);
    grown.set(this.#data);
    this.#data = grown;
  }
}

/** Copies the entry at `from` to `to`: four assignments, cheaper than a copyWithin call per heap level. */
function move(data: Float64Array, from: number, to: number): void {
  data[to] = data[from]!;
  data[to + 1] = data[from + 1]!;
  data[to + 2] = data[from + 2]!;
  data[to + 3] = data[from + 3]!;
}

/** Writes an entry at `at`: where a sift up or down ends, once, after moving the others aside. */
function write(
  data: Float64Array,
  at: number,
  keyMs: number,
  slotMs: number,
  taskId: number,
  seq: number,
): void {
  data[at + KEY] = keyMs;
  data[at + SLOT] = slotMs;
  data[at + TASK] = taskId;
  data[at + SEQ] = seq;
}

/** Heap order: by key, then first parked first. */
function before(keyA: number, seqA: number, keyB: number, seqB: number): boolean {
  return keyA < keyB || (keyA === keyB && seqA < seqB);
}
