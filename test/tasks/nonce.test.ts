import { describe, expect, it } from 'vitest';
import { MAX_NONCE_LENGTH, runNonce } from '../../src/tasks/index.js';

describe('runNonce', () => {
  it('is the same for the same task and slot', () => {
    expect(runNonce(42, Date.UTC(2025, 0, 1, 9))).toBe(runNonce(42, Date.UTC(2025, 0, 1, 9)));
  });

  it('differs when the task or the slot differs', () => {
    const slot = Date.UTC(2025, 0, 1, 9);
    const nonces = new Set([runNonce(1, slot), runNonce(2, slot), runNonce(1, slot + 1), runNonce(12, slot)]);
    expect(nonces.size).toBe(4);
  });

  it(`fits Discord's ${MAX_NONCE_LENGTH}-character limit even at the extremes`, () => {
    expect(runNonce(Number.MAX_SAFE_INTEGER, Date.UTC(9999, 11, 31)).length).toBeLessThanOrEqual(
      MAX_NONCE_LENGTH,
    );
    expect(runNonce(0, 0)).toBe('m0.0');
  });

  it('rejects inputs that are not whole non-negative numbers', () => {
    expect(() => runNonce(1.5, 0)).toThrow(RangeError);
    expect(() => runNonce(1, Number.NaN)).toThrow(RangeError);
  });
});
