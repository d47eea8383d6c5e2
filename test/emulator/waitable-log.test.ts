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

it('retain keeps at least the latest entries and at most twice that, while waiters see every entry', async () => {
  const log = new WaitableLog<number>({ retain: 3 });
  const waited = log.waitForNext((n) => n === 7, 'seven');
  for (let n = 1; n <= 7; n++) log.push(n);
  expect(await waited).toBe(7);
  expect(log.entries).toEqual([5, 6, 7]);
  log.push(8);
  log.push(9);
  log.push(10);
  expect(log.entries).toEqual([5, 6, 7, 8, 9, 10]);
  log.push(11);
  expect(log.entries).toEqual([9, 10, 11]);
  const none = new WaitableLog<number>({ retain: 0 });
  none.push(1);
  expect(none.entries).toEqual([]);
  expect(() => new WaitableLog<number>({ retain: -1 })).toThrow(/retain/);
  expect(() => new WaitableLog<number>({ retain: Number.NaN })).toThrow(/retain/);
});
