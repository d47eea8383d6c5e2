// The shard manager's restarts: a child that keeps dying soon after starting waits longer each time (so a
// crash loop does not spend Discord's 1,000 daily session starts in minutes); one that ran a while is
// started again at once, and its next crash starts the pauses over.
import { expect, it } from 'vitest';
import { ExponentialBackoff } from '../../src/loop/backoff.js';
import { RESTART_BASE_MS, RESTART_CAP_MS, restartDelayMs, STABLE_AFTER_MS } from '../../src/shard/manager.js';

it('pauses grow from a second to a minute while the child keeps dying early', () => {
  const restarts = new ExponentialBackoff(RESTART_BASE_MS, RESTART_CAP_MS);
  const delays = Array.from({ length: 9 }, () => restartDelayMs(2_000, restarts));
  // Equal jitter: the k-th pause is in [step/2, step], step = min(cap, base * 2^(k-1)).
  const steps = [1, 2, 4, 8, 16, 32, 60, 60, 60].map((s) => s * 1_000);
  delays.forEach((delay, k) => {
    expect(delay).toBeGreaterThanOrEqual(steps[k]! / 2);
    expect(delay).toBeLessThanOrEqual(steps[k]!);
  });
});

it('a child that ran past a minute starts again at once, and its pauses start over', () => {
  const restarts = new ExponentialBackoff(RESTART_BASE_MS, RESTART_CAP_MS);
  for (let k = 0; k < 5; k++) restartDelayMs(100, restarts);
  expect(restartDelayMs(STABLE_AFTER_MS, restarts)).toBe(0);
  expect(restartDelayMs(100, restarts)).toBeLessThanOrEqual(RESTART_BASE_MS);
});
