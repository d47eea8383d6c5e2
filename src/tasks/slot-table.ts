// Each parked task's slot, by task id: an open-addressing hash table (linear probing) in two Float64Arrays.
// A Map<number, number> cost ~130 bytes a task on the JS heap (its entries, and a heap number per slot, since
// epoch milliseconds are not small integers), all of which every major GC walks: at a million parked tasks
// the restore spent most of its time in GC. Here a task costs 16 bytes per table cell (the table is kept at
// most half full) and nothing the GC looks into. Task ids are positive integers; 0 marks an empty cell.

const INITIAL_CAPACITY = 1_024; // a power of two
const EMPTY = 0;

export class SlotTable {
  #ids = new Float64Array(INITIAL_CAPACITY);
  #slots = new Float64Array(INITIAL_CAPACITY);
  #mask = INITIAL_CAPACITY - 1;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Bytes of the table's arrays. */
  get bytes(): number {
    return this.#ids.byteLength + this.#slots.byteLength;
  }

  /** The slot stored for `taskId`, or undefined. */
  get(taskId: number): number | undefined {
    const index = this.#find(taskId);
    return index === -1 ? undefined : this.#slots[index];
  }

  has(taskId: number): boolean {
    return this.#find(taskId) !== -1;
  }

  /** Stores `slotMs` for `taskId`, replacing any; returns whether the task had one. */
  set(taskId: number, slotMs: number): boolean {
    if (!(Number.isSafeInteger(taskId) && taskId > 0)) {
      throw new RangeError(`a task id must be a positive integer, got ${taskId}`);
    }
    const ids = this.#ids;
    for (let index = home(taskId, this.#mask); ; index = (index + 1) & this.#mask) {
      const id = ids[index]!;
      if (id === taskId) {
        this.#slots[index] = slotMs;
        return true;
      }
      if (id === EMPTY) {
        ids[index] = taskId;
        this.#slots[index] = slotMs;
        if (++this.#size * 2 > ids.length) this.#resize(ids.length * 2);
        return false;
      }
    }
  }

  /** Removes `taskId`; returns whether it was there. */
  delete(taskId: number): boolean {
    let hole = this.#find(taskId);
    if (hole === -1) return false;
    this.#size--;
    const ids = this.#ids;
    const slots = this.#slots;
    const mask = this.#mask;
    // Backward-shift deletion: later cells of the probe run move into the hole unless their home lies
    // cyclically after the hole, so every lookup still finds its id without tombstones.
    for (let index = (hole + 1) & mask; ids[index] !== EMPTY; index = (index + 1) & mask) {
      const wanted = home(ids[index]!, mask);
      const stays = hole <= index ? hole < wanted && wanted <= index : hole < wanted || wanted <= index;
      if (stays) continue;
      ids[hole] = ids[index]!;
      slots[hole] = slots[index]!;
      hole = index;
    }
    ids[hole] = EMPTY;
    if (this.#size * 8 < ids.length && ids.length > INITIAL_CAPACITY) this.#resize(ids.length / 2);
    return true;
  }

  /** Removes every entry and gives the memory back. */
  clear(): void {
    this.#ids = new Float64Array(INITIAL_CAPACITY);
    this.#slots = new Float64Array(INITIAL_CAPACITY);
    this.#mask = INITIAL_CAPACITY - 1;
    this.#size = 0;
  }

  #find(taskId: number): number {
    const ids = this.#ids;
    for (let index = home(taskId, this.#mask); ; index = (index + 1) & this.#mask) {
      const id = ids[index]!;
      if (id === EMPTY) return -1; // first: 0 is never a task id, so it is never found
      if (id === taskId) return index;
    }
  }

  #resize(capacity: number): void {
    const ids = this.#ids;
    const slots = this.#slots;
    this.#ids = new Float64Array(capacity);
    this.#slots = new Float64Array(capacity);
    this.#mask = capacity - 1;
    for (let index = 0; index < ids.length; index++) {
      const id = ids[index]!;
      if (id === EMPTY) continue;
      let at = home(id, this.#mask);
      while (this.#ids[at] !== EMPTY) at = (at + 1) & this.#mask;
      this.#ids[at] = id;
      this.#slots[at] = slots[index]!;
    }
  }
}

/** Where an id's probe starts: ids are often consecutive, so they are mixed first (Fibonacci hashing). */
function home(taskId: number, mask: number): number {
  const low = taskId >>> 0;
  const high = (taskId / 4_294_967_296) >>> 0;
  return (Math.imul(low ^ Math.imul(high, 0x85eb_ca6b), 0x9e37_79b1) >>> 0) & mask;
}
