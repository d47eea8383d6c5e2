import { expect, it } from 'vitest';
import { WaitableLog } from '../../emulator/log.js';

it('subscribe sees each entry pushed after it, synchronously, until it unsubscribes', () => {
  const log = new WaitableLog<number>();
  log.push(1);
  const seen: number[] = [];
  const unsubscribe = log.subscribe((entry) => seen.push(entry));
  log.push(2);
  // Before push returned: a listener can act before the emulator answers the request behind the entry.
  expect(seen).toEqual([2]);
  log.push(3);
  unsubscribe();
  log.push(4);
  expect(seen).toEqual([2, 3]);
  expect(log.entries).toEqual([1, 2, 3, 4]);
});
