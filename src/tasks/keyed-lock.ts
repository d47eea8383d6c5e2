// A per-key promise lock: calls for one key run one at a time, in call order; calls for different keys do
// not wait on each other. A key with nothing queued holds no memory. The TaskRuntime serializes commands
// on one task with it; handlers that keep per-task state can use the same one.

const settled = (): void => {};

export class KeyedLock<K> {
  /** The tail of each key's queue: settles once everything queued so far has. */
  readonly #tails = new Map<K, Promise<void>>();

  /** Runs `fn` once every earlier call for `key` has settled; its result (or rejection) is returned as is. */
  run<T>(key: K, fn: () => T | Promise<T>): Promise<T> {
    const result = (this.#tails.get(key) ?? Promise.resolve()).then(fn);
    const tail = result.then(settled, settled);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Keys with a call queued or running. */
  get size(): number {
    return this.#tails.size;
  }
}
