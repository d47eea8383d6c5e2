import { describe, expect, it } from 'vitest';
import { ParkedQueue } from '../../src/tasks/parked-queue.js';

/** Pops everything as [key, slot, task, seq] rows. */
function drain(queue: ParkedQueue): number[][] {
  const out: number[][] = [];
  for (let entry = queue.popEntry(); entry !== undefined; entry = queue.popEntry()) {
    out.push([entry.keyMs, entry.slotMs, entry.taskId, entry.seq]);
  }
  return out;
}

describe('ParkedQueue', () => {
  it('pops by key, and entries with the same key first parked first', () => {
    const queue = new ParkedQueue();
    queue.push(30, 1030, 3, 0);
    queue.push(10, 1010, 1, 1);
    queue.push(20, 1020, 7, 2);
    queue.push(10, 1010, 2, 3);
    expect(queue.headKeyMs).toBe(10);
    expect(drain(queue)).toEqual([
      [10, 1010, 1, 1],
      [10, 1010, 2, 3],
      [20, 1020, 7, 2],
      [30, 1030, 3, 0],
    ]);
    expect(queue.size).toBe(0);
    expect(queue.headKeyMs).toBe(Number.POSITIVE_INFINITY);
    expect(queue.popEntry()).toBeUndefined();
  });

  it('grows past its first capacity and keeps heap order over many random keys', () => {
    const queue = new ParkedQueue();
    const startBytes = queue.bytes;
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed;
    };
    const keys: number[] = [];
    for (let i = 0; i < 5_000; i++) {
      const key = 1.7e12 + (random() % 100_000); // epoch-sized keys, with repeats
      keys.push(key);
      queue.push(key, key, i + 1, i);
    }
    expect(queue.size).toBe(5_000);
    expect(queue.bytes).toBeGreaterThan(startBytes);
    const popped = drain(queue);
    expect(popped.map((row) => row[0])).toEqual([...keys].sort((a, b) => a - b));
    // Same key: in push order (seq ascending).
    for (let i = 1; i < popped.length; i++) {
      if (popped[i]![0] === popped[i - 1]![0]) expect(popped[i]![3]).toBeGreaterThan(popped[i - 1]![3]!);
    }
    expect(queue.bytes).toBe(startBytes); // a drained queue gives its memory back
  });

  it('retain drops the entries refused and keeps the rest in order', () => {
    const queue = new ParkedQueue();
    for (let task = 1; task <= 200; task++) queue.push(1_000 - task, 5_000 + task, task, task);
    queue.retain((taskId, slotMs) => taskId % 3 === 0 && slotMs === 5_000 + taskId);
    const popped = drain(queue);
    expect(popped.map((row) => row[2])).toEqual(
      Array.from({ length: 66 }, (_, i) => 198 - 3 * i), // multiples of 3, latest key last
    );
  });

  it('clear empties it, and it can be used again', () => {
    const queue = new ParkedQueue();
    queue.push(5, 5, 1, 0);
    queue.clear();
    expect(queue.size).toBe(0);
    expect(queue.popEntry()).toBeUndefined();
    queue.push(7, 7, 2, 1);
    expect(drain(queue)).toEqual([[7, 7, 2, 1]]);
  });
});
