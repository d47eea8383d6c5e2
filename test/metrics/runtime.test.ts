// instrumentRuntime on the runtime's event stream: outcomes as labels (gave_up apart from error), durations,
// lateness for a slot's first attempt only, journal writes and failures, the queue read at scrape, detaching.
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { instrumentRuntime } from '../../src/metrics/runtime.js';
import { type RunRecordedEvent, RuntimeEvents } from '../../src/tasks/events.js';

function setUp() {
  const events = new RuntimeEvents();
  const runtime = { events, queuedRecords: 0 };
  const metrics = createMetrics({ defaultMetrics: false });
  const detach = instrumentRuntime(runtime, metrics);
  const run = (event: Partial<RunRecordedEvent> & Pick<RunRecordedEvent, 'outcome'>) => {
    const scheduledAt = event.scheduledAt ?? 1_000_000;
    events.emit('runRecorded', {
      taskId: 1,
      kind: 'reminder',
      gaveUp: false,
      scheduledAt,
      startedAt: scheduledAt + 20,
      finishedAt: scheduledAt + 520,
      ...event,
    });
  };
  const scrape = () => metrics.registry.metrics();
  return { events, runtime, metrics, detach, run, scrape };
}

function sample(scrape: string, series: string): number | undefined {
  const line = scrape.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('instrumentRuntime', () => {
  it('counts runs by kind and outcome, with gave_up apart from error', async () => {
    const { run, scrape } = setUp();
    run({ outcome: 'ok' });
    run({ outcome: 'ok', kind: 'counter' });
    run({ outcome: 'error' });
    run({ outcome: 'error', gaveUp: true });
    run({ outcome: 'cancelled' });
    const text = await scrape();
    expect(sample(text, 'metronome_task_runs_total{kind="reminder",outcome="ok"}')).toBe(1);
    expect(sample(text, 'metronome_task_runs_total{kind="counter",outcome="ok"}')).toBe(1);
    expect(sample(text, 'metronome_task_runs_total{kind="reminder",outcome="error"}')).toBe(1);
    expect(sample(text, 'metronome_task_runs_total{kind="reminder",outcome="gave_up"}')).toBe(1);
    expect(sample(text, 'metronome_task_runs_total{kind="reminder",outcome="cancelled"}')).toBe(1);
  });

  it('times a run from start to end, and its lateness from the slot', async () => {
    const { run, scrape } = setUp();
    run({ outcome: 'ok' });
    const text = await scrape();
    expect(sample(text, 'metronome_task_run_duration_seconds_sum{kind="reminder"}')).toBe(0.5);
    expect(sample(text, 'metronome_task_run_duration_seconds_bucket{le="0.25",kind="reminder"}')).toBe(0);
    expect(sample(text, 'metronome_task_run_duration_seconds_bucket{le="0.5",kind="reminder"}')).toBe(1);
    expect(sample(text, 'metronome_task_firing_lateness_seconds_sum')).toBe(0.02);
    expect(sample(text, 'metronome_task_firing_lateness_seconds_bucket{le="0.025"}')).toBe(1);
  });

  it('takes lateness from the first attempt of a slot only, not from its retries', async () => {
    const { run, scrape } = setUp();
    const slot = 5_000_000;
    run({ outcome: 'retried', scheduledAt: slot, startedAt: slot + 10, finishedAt: slot + 20 });
    run({ outcome: 'retried', scheduledAt: slot, startedAt: slot + 1_000, finishedAt: slot + 1_010 });
    // Another task's first attempt in between is its own first attempt.
    run({ outcome: 'ok', taskId: 2, scheduledAt: slot, startedAt: slot + 30, finishedAt: slot + 40 });
    run({ outcome: 'ok', scheduledAt: slot, startedAt: slot + 3_000, finishedAt: slot + 3_010 });
    // The next slot of task 1 is a first attempt again.
    run({
      outcome: 'error',
      scheduledAt: slot + 60_000,
      startedAt: slot + 60_005,
      finishedAt: slot + 60_006,
    });
    const text = await scrape();
    expect(sample(text, 'metronome_task_firing_lateness_seconds_count')).toBe(3);
    expect(sample(text, 'metronome_task_firing_lateness_seconds_sum')).toBeCloseTo(0.045, 10);
    expect(sample(text, 'metronome_task_run_duration_seconds_count{kind="reminder"}')).toBe(5);
  });

  it('gives interrupted and missed slots no duration and no lateness, and cancelled ones no lateness', async () => {
    const { run, scrape } = setUp();
    run({ outcome: 'interrupted' });
    run({ outcome: 'missed' });
    run({ outcome: 'cancelled', taskId: 3 });
    const text = await scrape();
    expect(sample(text, 'metronome_task_runs_total{kind="reminder",outcome="interrupted"}')).toBe(1);
    expect(sample(text, 'metronome_task_runs_total{kind="reminder",outcome="missed"}')).toBe(1);
    expect(sample(text, 'metronome_task_run_duration_seconds_count{kind="reminder"}')).toBe(1);
    expect(sample(text, 'metronome_task_firing_lateness_seconds_count')).toBe(0);
  });

  it('times journal writes by what they wrote, counts refused ones, and reads the queue at scrape', async () => {
    const { events, runtime, scrape } = setUp();
    events.emit('journalWrite', { what: 'intents', rows: 10, durationMs: 2, ok: true, queued: 0 });
    events.emit('journalWrite', { what: 'records', rows: 10, durationMs: 150, ok: false, queued: 10 });
    runtime.queuedRecords = 10;
    const text = await scrape();
    expect(sample(text, 'metronome_db_journal_write_duration_seconds_count{what="intents"}')).toBe(1);
    expect(sample(text, 'metronome_db_journal_write_duration_seconds_bucket{le="0.25",what="records"}')).toBe(
      1,
    );
    expect(sample(text, 'metronome_db_journal_write_duration_seconds_bucket{le="0.1",what="records"}')).toBe(
      0,
    );
    expect(sample(text, 'metronome_db_journal_write_failures_total{what="records"}')).toBe(1);
    expect(sample(text, 'metronome_db_journal_write_failures_total{what="intents"}')).toBe(0);
    expect(sample(text, 'metronome_run_records_queued')).toBe(10);
  });

  it('starts the ok, error and gave_up series of the kinds it is given at 0', async () => {
    const events = new RuntimeEvents();
    const metrics = createMetrics({ defaultMetrics: false });
    instrumentRuntime({ events, queuedRecords: 0 }, metrics, ['reminder', 'counter']);
    const text = await metrics.registry.metrics();
    for (const kind of ['reminder', 'counter']) {
      for (const outcome of ['ok', 'error', 'gave_up']) {
        expect(sample(text, `metronome_task_runs_total{kind="${kind}",outcome="${outcome}"}`)).toBe(0);
      }
    }
    expect(text).not.toContain('outcome="retried"');
  });

  it('stops counting once detached', async () => {
    const { run, detach, events, runtime, scrape } = setUp();
    run({ outcome: 'ok' });
    runtime.queuedRecords = 5;
    expect(sample(await scrape(), 'metronome_run_records_queued')).toBe(5);
    detach();
    runtime.queuedRecords = 9;
    expect(events.listenerCount('runRecorded')).toBe(0);
    expect(events.listenerCount('journalWrite')).toBe(0);
    run({ outcome: 'ok' });
    const text = await scrape();
    expect(sample(text, 'metronome_task_runs_total{kind="reminder",outcome="ok"}')).toBe(1);
    // No longer read: the gauge keeps its last value.
    expect(sample(text, 'metronome_run_records_queued')).toBe(5);
  });
});
