// The processes of one sharded bot are told apart in Prometheus by a `shards` label on every series; a bot of
// one shard keeps its series as they were.
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';

async function seriesOf(shards?: { count: number; ids: number[] }): Promise<string[]> {
  const metrics = createMetrics({ defaultMetrics: false, shards });
  metrics.commands.inc({ subcommand: 'list', outcome: 'ok' });
  // The runtime's own fast counters are read by the same registry, and get the label the same way.
  metrics.runs.labels('reminder', 'ok').inc();
  const text = await metrics.registry.metrics();
  return text.split('\n').filter((line) => /^metronome_(commands|task_runs)_total\{/.test(line));
}

describe('shard labels', () => {
  it('labels every series with the shards of the process when there are several', async () => {
    expect(await seriesOf({ count: 4, ids: [3, 2] })).toEqual([
      'metronome_task_runs_total{kind="reminder",outcome="ok",shards="2,3"} 1',
      'metronome_commands_total{subcommand="list",outcome="ok",shards="2,3"} 1',
    ]);
  });

  it('adds no label for a bot of one shard', async () => {
    for (const shards of [undefined, { count: 1, ids: [0] }]) {
      expect(await seriesOf(shards)).toEqual([
        'metronome_task_runs_total{kind="reminder",outcome="ok"} 1',
        'metronome_commands_total{subcommand="list",outcome="ok"} 1',
      ]);
    }
  });
});
