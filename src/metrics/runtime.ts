// The task runtime's share of the metrics: runs by kind and outcome, run durations, firing lateness, journal
// writes and the queue of records, all from the runtime's event stream. Per run: one counter increment and
// two histogram observations on label children looked up in small maps (fast.ts), no label objects built.
import type { JournalWriteEvent, RunRecordedEvent, RuntimeEvents } from '../tasks/events.js';
import type { BotMetrics, RunOutcomeLabel } from './metrics.js';

/** What instrumentRuntime needs of a TaskRuntime: its event stream and its queue length. */
export interface InstrumentedRuntime {
  readonly events: RuntimeEvents;
  readonly queuedRecords: number;
}

type CounterChild = ReturnType<BotMetrics['runs']['labels']>;
type HistogramChild = ReturnType<BotMetrics['runDuration']['labels']>;

/**
 * Attaches the runtime's metrics to `metrics`; returns a function that detaches them. The handler `kinds`
 * known at start get their ok, error and gave_up series at 0 at once, so increase() and alerts see a kind's
 * first failure (a series that appears already at 1 has no increase to show).
 */
export function instrumentRuntime(
  runtime: InstrumentedRuntime,
  metrics: BotMetrics,
  kinds: readonly string[] = [],
): () => void {
  const runCounters = new Map<string, Map<RunOutcomeLabel, CounterChild>>();
  const durations = new Map<string, HistogramChild>();
  const lateness = metrics.firingLateness.labels();
  const journal = {
    intents: metrics.journalWriteDuration.labels('intents'),
    records: metrics.journalWriteDuration.labels('records'),
  };
  const journalFailures = {
    intents: metrics.journalWriteFailures.labels('intents'),
    records: metrics.journalWriteFailures.labels('records'),
  };
  // Shown as 0 from the start, so that rate() and alerts on them work before the first failure.
  journalFailures.intents.inc(0);
  journalFailures.records.inc(0);
  // Slots whose last attempt was retried, by task: their next attempt is not the first. Only tasks retrying
  // right now are in here (the entry goes when the slot settles), so it stays as small as the retries.
  const retrying = new Map<number, number>();

  const runCounter = (kind: string, outcome: RunOutcomeLabel): CounterChild => {
    let byOutcome = runCounters.get(kind);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      runCounters.set(kind, byOutcome);
    }
    let child = byOutcome.get(outcome);
    if (child === undefined) {
      child = metrics.runs.labels(kind, outcome);
      byOutcome.set(outcome, child);
    }
    return child;
  };

  for (const kind of kinds)
    for (const outcome of ['ok', 'error', 'gave_up'] as const) runCounter(kind, outcome);

  const onRun = (event: RunRecordedEvent): void => {
    const { kind, outcome, taskId, scheduledAt, startedAt, finishedAt } = event;
    runCounter(kind, outcome === 'error' && event.gaveUp ? 'gave_up' : outcome).inc();
    // Interrupted and missed slots did not run in this process: they have no duration or lateness.
    if (outcome === 'interrupted' || outcome === 'missed') return;
    let duration = durations.get(kind);
    if (duration === undefined) {
      duration = metrics.runDuration.labels(kind);
      durations.set(kind, duration);
    }
    duration.observe(Math.max(0, finishedAt - startedAt) / 1000);
    const firstAttempt = retrying.get(taskId) !== scheduledAt;
    if (outcome === 'retried') retrying.set(taskId, scheduledAt);
    else retrying.delete(taskId);
    if (firstAttempt && outcome !== 'cancelled') {
      lateness.observe(Math.max(0, startedAt - scheduledAt) / 1000);
    }
  };

  const onJournalWrite = (event: JournalWriteEvent): void => {
    journal[event.what].observe(event.durationMs / 1000);
    if (!event.ok) journalFailures[event.what].inc();
  };

  runtime.events.on('runRecorded', onRun);
  runtime.events.on('journalWrite', onJournalWrite);
  metrics.sources.queuedRecords = () => runtime.queuedRecords;
  return () => {
    runtime.events.off('runRecorded', onRun);
    runtime.events.off('journalWrite', onJournalWrite);
    if (metrics.sources.queuedRecords !== undefined) delete metrics.sources.queuedRecords;
  };
}
