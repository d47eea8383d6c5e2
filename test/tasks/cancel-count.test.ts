// A cancel that cuts a run after its handler was called may have cut it after it posted: that run counts, so
// a counted task cancelled mid-run and started again never posts more than its count (found by npm run chaos).
import { describe, expect, it, vi } from 'vitest';
import { definition, MINUTE, recordingExecutor, useRuntimeOnFakeClock } from './helpers.js';

const T0 = Date.UTC(2025, 5, 2, 12, 0, 0);

describe('cancelling a counted task mid-run', () => {
  const harness = useRuntimeOnFakeClock(T0);

  /** Every call "posts" at once, then waits for its signal: a cancel always lands after the post. */
  function postThenWait() {
    const posts: number[] = [];
    const execute = recordingExecutor(async (_task, ctx) => {
      posts.push(ctx.scheduledAt.getTime());
      await new Promise<void>((resolve) => {
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        setTimeout(resolve, 1_000);
      });
    });
    return { execute, posts };
  }

  it('counts the cut run, so start after cancel posts only what is left of the count', async () => {
    const { execute, posts } = postThenWait();
    const runtime = harness.start(execute);
    await runtime.create('g1', definition({ count: 2 }));
    await vi.advanceTimersByTimeAsync(10); // the first run has posted and is still in flight
    expect(posts).toHaveLength(1);
    const cancelled = await runtime.cancel('g1', 'ping');
    expect(cancelled.state).toBe('cancelled');
    await vi.advanceTimersByTimeAsync(0);
    runtime.flush();
    const afterCancel = runtime.info('g1', 'ping');
    expect(afterCancel.task.currentLoop).toBe(1);
    expect(afterCancel.runs.map((run) => run.outcome)).toEqual(['cancelled']);

    await runtime.start('g1', 'ping');
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(posts).toHaveLength(2);
    expect(runtime.info('g1', 'ping').task).toMatchObject({ state: 'completed', currentLoop: 2 });
  });

  it('does not count a cancel that came before the handler was called', async () => {
    const { execute, posts } = postThenWait();
    const runtime = harness.start(execute);
    await runtime.create('g1', definition({ count: 2, start: false }));
    await runtime.start('g1', 'ping');
    await vi.advanceTimersByTimeAsync(1_500); // the first run has ended: one post, counted
    await vi.advanceTimersByTimeAsync(MINUTE - 1_600); // waiting for the second slot, nothing in flight
    await runtime.cancel('g1', 'ping');
    runtime.flush();
    expect(posts).toHaveLength(1);
    expect(runtime.info('g1', 'ping').task.currentLoop).toBe(1);
  });
});
