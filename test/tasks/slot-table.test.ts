import { describe, expect, it } from 'vitest';
import { SlotTable } from '../../src/tasks/slot-table.js';

describe('SlotTable', () => {
  it('answers like a Map through a long random run of sets, deletes and lookups, growing and shrinking', () => {
    const table = new SlotTable();
    const model = new Map<number, number>();
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const startBytes = table.bytes;
    let grewTo = 0;
    for (let step = 0; step < 60_000; step++) {
      // First mostly sets (ids consecutive and scattered, some past 2^32), then mostly deletes.
      const id = random(3) === 0 ? 1 + random(5_000) : 2 ** 33 + random(5_000);
      const roll = random(10);
      const deleting = step < 30_000 ? roll < 3 : roll < 8;
      if (deleting) {
        expect(table.delete(id)).toBe(model.delete(id));
      } else {
        const slot = 1.7e12 + random(1_000_000);
        expect(table.set(id, slot)).toBe(model.has(id));
        model.set(id, slot);
      }
      if (step % 97 === 0) {
        const probe = random(2) === 0 ? 1 + random(5_000) : 2 ** 33 + random(5_000);
        expect(table.get(probe)).toBe(model.get(probe));
        expect(table.has(probe)).toBe(model.has(probe));
      }
      expect(table.size).toBe(model.size);
      grewTo = Math.max(grewTo, table.bytes);
    }
    for (const [id, slot] of model) expect(table.get(id)).toBe(slot);
    expect(grewTo).toBeGreaterThan(startBytes);
    for (const id of [...model.keys()]) table.delete(id);
    expect(table.size).toBe(0);
    expect(table.bytes).toBeLessThan(grewTo); // emptied, it shrinks back
  });

  it('refuses an id that is not a positive integer, since 0 marks an empty cell', () => {
    const table = new SlotTable();
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(() => table.set(bad, 1)).toThrow(RangeError);
    }
    expect(table.size).toBe(0);
    expect(table.get(0)).toBeUndefined();
    expect(table.delete(0)).toBe(false);
  });

  it('clear empties it', () => {
    const table = new SlotTable();
    for (let id = 1; id <= 3_000; id++) table.set(id, id * 10);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.get(5)).toBeUndefined();
    table.set(5, 50);
    expect(table.get(5)).toBe(50);
  });
});
