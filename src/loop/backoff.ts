// Retry delays after a handled error. discord.py's ExponentialBackoff draws uniformly from
// [0, base * 2^exp] ("full jitter"), so a retry can follow instantly and delays do not visibly grow; we use
// "equal jitter" (half fixed, half random) so every retry waits at least half its step and the steps grow
// monotonically. The cap is 5 minutes rather than discord.py's 2^10 s (~17 min): a bot task that has been
// failing for a while should still come back within minutes of Discord recovering.

export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_CAP_MS = 5 * 60_000;

export class ExponentialBackoff {
  #attempt = 0;

  constructor(
    private readonly baseMs = BACKOFF_BASE_MS,
    private readonly capMs = BACKOFF_CAP_MS,
  ) {}

  /** Delay before the next retry: the k-th call waits in [step/2, step] with step = min(cap, base * 2^(k-1)). */
  nextDelayMs(): number {
    const stepMs = Math.min(this.capMs, this.baseMs * 2 ** this.#attempt);
    if (stepMs < this.capMs) this.#attempt++;
    return stepMs / 2 + Math.random() * (stepMs / 2);
  }

  /** After a success the next failure starts again from the base delay. */
  reset(): void {
    this.#attempt = 0;
  }
}
