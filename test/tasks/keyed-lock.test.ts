import { describe, expect, it } from 'vitest';
import { KeyedLock } from '../../src/tasks/keyed-lock.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('KeyedLock', () => {
  it('runs calls for one key one at a time, in call order, past a rejection', async () => {
    const lock = new KeyedLock<string>();
    const events: string[] = [];
    let release!: () => void;
    const first = lock.run('a', async () => {
      events.push('first start');
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      events.push('first end');
      throw new Error('boom');
    });
    const second = lock.run('a', () => {
      events.push('second');
      return 2;
    });
    await tick();
    expect(events).toEqual(['first start']);
    release();
    await expect(first).rejects.toThrow('boom');
    await expect(second).resolves.toBe(2);
    expect(events).toEqual(['first start', 'first end', 'second']);
  });

  it('does not make other keys wait, and forgets a key once its queue is empty', async () => {
    const lock = new KeyedLock<number>();
    const held = lock.run(1, () => new Promise<void>(() => {}));
    await expect(lock.run(2, () => 'other')).resolves.toBe('other');
    await tick();
    expect(lock.size).toBe(1); // key 2 released; key 1 still held
    void held;
  });
});
