/** Default timeout of every `waitFor…` helper: short, because everything is local. */
export const DEFAULT_WAIT_TIMEOUT_MS = 2_000;

export interface WaitOptions {
  timeoutMs?: number;
}

interface Waiter<T> {
  predicate: (entry: T) => boolean;
  resolve: (entry: T) => void;
}

/**
 * An append-only list that tests can wait on. `waitFor` first looks at what is already there, then at
 * what arrives, so a test never races the event it waits for.
 */
export class WaitableLog<T> {
  #entries: T[] = [];
  #waiters: Waiter<T>[] = [];
  readonly #listeners = new Set<(entry: T) => void>();
  readonly #retain: number;

  /**
   * `retain` bounds memory for long runs: the log keeps at least the latest `retain` entries and at most twice
   * that (it drops the older half at once rather than shifting on every push). Waiters and subscribers still
   * see every entry. Default: keep all.
   */
  constructor(options: { retain?: number } = {}) {
    this.#retain = options.retain ?? Number.POSITIVE_INFINITY;
    if (!(this.#retain >= 0)) throw new Error('WaitableLog retain must be ≥ 0');
  }

  get entries(): readonly T[] {
    return this.#entries;
  }

  push(entry: T): void {
    this.#entries.push(entry);
    if (this.#entries.length > 2 * this.#retain)
      this.#entries = this.#entries.slice(this.#entries.length - this.#retain);
    for (const listener of this.#listeners) listener(entry);
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) {
      if (waiter.predicate(entry)) waiter.resolve(entry);
      else this.#waiters.push(waiter);
    }
  }

  /**
   * Calls `listener` synchronously with every entry pushed from now on, before the emulator answers the
   * request that caused it (so a listener can act "between" Discord's side and the bot's). Returns a function
   * that stops it.
   */
  subscribe(listener: (entry: T) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  find(predicate: (entry: T) => boolean): T | undefined {
    return this.#entries.find(predicate);
  }

  waitFor(predicate: (entry: T) => boolean, what: string, options: WaitOptions = {}): Promise<T> {
    const existing = this.#entries.find(predicate);
    if (existing !== undefined) return Promise.resolve(existing);
    return this.waitForNext(predicate, what, options);
  }

  /** Like `waitFor`, but ignores entries already recorded. */
  waitForNext(predicate: (entry: T) => boolean, what: string, options: WaitOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        predicate,
        resolve: (entry) => {
          clearTimeout(timer);
          resolve(entry);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }
}
