// A new run of a task never overlaps the old run's handler (found by npm run chaos: a counter restarted
// right after its first post posted a second message, because the new run started before the old one saved
// its message id). The loop ends at cancel without waiting; the runtime waits before starting the new run.
import { describe, expect, it, vi } from 'vitest';
import { definition, recordingExecutor, useRuntimeOnFakeClock } from './helpers.js';

const T0 = Date.UTC(2025, 5, 2, 12, 0, 0);
const SAVE_MS = 500;

describe('a new run after cancel or restart', () => {
  const harness = useRuntimeOnFakeClock(T0);

  /** A handler that, once aborted, still takes SAVE_MS to finish (saving what it posted), as counters do. */
  function slowToSettle() {
    const events: string[] = [];
    const execute = recordingExecutor(async (_task, ctx) => {
      events.push(`start ${ctx.iteration}`);
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      await new Promise((resolve) => setTimeout(resolve, SAVE_MS));
      events.push(`saved ${ctx.iteration}`);
    });
    return { execute, events };
  }

  it('restart waits for the old handler to settle before the new run starts', async () => {
    const { execute, events } = slowToSettle();
    const runtime = harness.start(execute);
    await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(10);
    const restarted = runtime.restart('g1', 'ping');
    await vi.advanceTimersByTimeAsync(SAVE_MS + 10);
    await restarted;
    await vi.advanceTimersByTimeAsync(10);
    expect(events).toEqual(['start 0', 'saved 0', 'start 0']);
  });

  it('start right after cancel waits for the cancelled handler to settle', async () => {
    const { execute, events } = slowToSettle();
    const runtime = harness.start(execute);
    await runtime.create('g1', definition());
    await vi.advanceTimersByTimeAsync(10);
    await runtime.cancel('g1', 'ping');
    const started = runtime.start('g1', 'ping');
    await vi.advanceTimersByTimeAsync(SAVE_MS + 10);
    await started;
    await vi.advanceTimersByTimeAsync(10);
    expect(events).toEqual(['start 0', 'saved 0', 'start 1']);
  });
});
