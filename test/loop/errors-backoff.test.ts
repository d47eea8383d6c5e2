import { afterEach, describe, expect, it, vi } from 'vitest';
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, ExponentialBackoff } from '../../src/loop/backoff.js';
import {
  assertErrorClasses,
  isTransientError,
  LoopCancelledError,
  TransientError,
} from '../../src/loop/errors.js';

const withProps = (props: Record<string, unknown>, base = new Error('x')) => Object.assign(base, props);

describe('transient error detection', () => {
  it.each([
    ['a socket reset', withProps({ code: 'ECONNRESET' })],
    ['a DNS failure', withProps({ code: 'EAI_AGAIN' })],
    ['an undici socket error', withProps({ code: 'UND_ERR_SOCKET' })],
    ['a discord.js HTTPError 502', withProps({ name: 'HTTPError', status: 502 })],
    ['a DiscordAPIError 500', withProps({ status: 500 })],
    ['a timeout', withProps({ name: 'TimeoutError' })],
    ['a websocket error', withProps({ name: 'WebSocketError' })],
    [
      'fetch failed caused by a reset',
      new TypeError('fetch failed', { cause: withProps({ code: 'ECONNRESET' }) }),
    ],
    ['an explicit TransientError', new TransientError('retry me')],
    // A handler module that loaded a second copy of the package throws that copy's class.
    [
      'a TransientError of another copy of the package',
      new (class TransientError extends Error {
        override name = 'TransientError';
      })('retry me'),
    ],
    // @discordjs/rest aborts a request that hit its timeout with no reason, so fetch rejects like this.
    [
      'a REST timeout (DOMException AbortError)',
      new DOMException('This operation was aborted', 'AbortError'),
    ],
    ['an Error named AbortError', withProps({ name: 'AbortError' })],
  ])('recognises %s', (_, error) => {
    expect(isTransientError(error) || error instanceof TransientError).toBe(true);
    expect(error instanceof TransientError).toBe(true);
  });

  it.each([
    ['a plain Error', new Error('bug')],
    ['a 404', withProps({ status: 404 })],
    ['a 429 (discord.js waits those out itself)', withProps({ status: 429 })],
    // Was 'an abort' (any AbortError): only the loop's own cancellation is an abort not to retry now.
    ["the loop's own cancellation", new LoopCancelledError()],
    ["an error caused by the loop's cancellation", new Error('gave up', { cause: new LoopCancelledError() })],
    ['a string', 'ECONNRESET'],
    ['null', null],
  ])('does not treat %s as transient', (_, error) => {
    expect(isTransientError(error)).toBe(false);
    expect(error instanceof TransientError).toBe(false);
  });

  it('does not widen instanceof for subclasses of TransientError', () => {
    class Mine extends TransientError {}
    expect(withProps({ code: 'ECONNRESET' }) instanceof Mine).toBe(false);
    expect(new Mine() instanceof TransientError).toBe(true);
  });

  it('accepts only Error classes', () => {
    expect(() => assertErrorClasses('addExceptionType', [RangeError, TransientError])).not.toThrow();
    expect(() => assertErrorClasses('addExceptionType', [() => {}])).toThrow(TypeError);
    expect(() => assertErrorClasses('addExceptionType', [class NotAnError {}])).toThrow(/got NotAnError/);
    expect(() => assertErrorClasses('addExceptionType', [new Error('x')])).toThrow(/expects Error classes/);
  });
});

describe('ExponentialBackoff', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('doubles from 1 s with jitter in [step/2, step], capped at 5 minutes', () => {
    const backoff = new ExponentialBackoff();
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const highs = Array.from({ length: 12 }, () => backoff.nextDelayMs());
    expect(highs.slice(0, 5)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(highs.at(-1)).toBe(BACKOFF_CAP_MS);
    backoff.reset();
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect([backoff.nextDelayMs(), backoff.nextDelayMs()]).toEqual([500, 1_000]);
  });

  // Equal jitter: while the step doubles, a retry never waits less than the one before (full jitter, as in
  // discord.py, often would); once at the cap, delays stay within [cap/2, cap].
  it('never shrinks from one retry to the next while doubling, whatever the jitter', () => {
    const doublingSteps = Math.ceil(Math.log2(BACKOFF_CAP_MS / BACKOFF_BASE_MS)); // 1 s … 256 s
    for (let trial = 0; trial < 50; trial++) {
      const backoff = new ExponentialBackoff();
      let previous = 0;
      for (let i = 0; i < 20; i++) {
        const delay = backoff.nextDelayMs();
        expect(delay).toBeGreaterThanOrEqual(previous / 2);
        expect(delay).toBeLessThanOrEqual(BACKOFF_CAP_MS);
        if (i < doublingSteps) expect(delay).toBeGreaterThanOrEqual(previous);
        else expect(delay).toBeGreaterThanOrEqual(BACKOFF_CAP_MS / 2);
        previous = delay;
      }
    }
  });
});
