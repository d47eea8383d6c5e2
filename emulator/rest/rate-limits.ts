/**
 * A fixed-size sliding window: at most `limit` events in any `windowMs`. Used for Discord's channel
 * name/topic sublimit (2 per 10 minutes per channel) and for per-route buckets.
 */
export class SlidingWindow {
  readonly #events = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Records an event for `key` and returns 0, or returns how long to wait (ms) without recording. */
  take(key: string, now = Date.now()): number {
    const recent = this.#recent(key, now);
    if (recent.length >= this.limit) return recent[0]! + this.windowMs - now;
    recent.push(now);
    this.#events.set(key, recent);
    return 0;
  }

  remaining(key: string, now = Date.now()): number {
    return Math.max(0, this.limit - this.#recent(key, now).length);
  }

  /** Milliseconds until the oldest event in the window expires (0 when the window is empty). */
  resetAfter(key: string, now = Date.now()): number {
    const recent = this.#recent(key, now);
    return recent.length === 0 ? 0 : recent[0]! + this.windowMs - now;
  }

  #recent(key: string, now: number): number[] {
    return (this.#events.get(key) ?? []).filter((at) => at > now - this.windowMs);
  }
}

/** Discord's global limit: `limit` requests per second per bot, counted in one-second windows. */
export class GlobalLimiter {
  #windowStart = 0;
  #count = 0;

  constructor(readonly perSecond: number) {}

  /** Returns 0 when the request may proceed, else milliseconds until the next window. */
  take(now = Date.now()): number {
    if (now - this.#windowStart >= 1_000) {
      this.#windowStart = now;
      this.#count = 0;
    }
    if (this.#count >= this.perSecond) return this.#windowStart + 1_000 - now;
    this.#count++;
    return 0;
  }
}

export interface RateLimitBody {
  message: string;
  retry_after: number;
  global: boolean;
  code: number;
}

/**
 * Discord sends Retry-After in whole seconds (rounded up) and the precise value in the body. Injected
 * faults may ask for the exact value in the header too, to keep tests fast.
 */
export function rateLimitedResponse(
  retryAfterMs: number,
  scope: 'user' | 'global' | 'shared',
  extraHeaders: Record<string, string> = {},
  exactHeader = false,
) {
  const global = scope === 'global';
  const body: RateLimitBody = {
    message: 'You are being rate limited.',
    retry_after: Math.round(retryAfterMs) / 1_000,
    global,
    code: 0,
  };
  return {
    status: 429,
    body,
    headers: {
      'retry-after': exactHeader
        ? String(retryAfterMs / 1_000)
        : String(Math.max(1, Math.ceil(retryAfterMs / 1_000))),
      'x-ratelimit-scope': scope,
      ...(global ? { 'x-ratelimit-global': 'true' } : {}),
      ...extraHeaders,
    },
  };
}
