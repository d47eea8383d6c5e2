// Every Prometheus metric the bot exposes, in one per-bot prom-client Registry (never the global one, so two
// bots in one process, as in the tests, keep their own numbers). Labels have few values by construction:
// handler kinds, outcomes, states, route templates, subcommands, shard ids; never a task, guild or channel.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from './fast.js';

export const METRICS_PREFIX = 'metronome_';

/** How a recorded attempt ended, as the runs counter labels it: the journal's outcomes, plus gave_up. */
export type RunOutcomeLabel = 'ok' | 'error' | 'gave_up' | 'retried' | 'cancelled' | 'interrupted' | 'missed';

/** How a /task command ended: done; refused with a sentence; not allowed (guard); or failed on our side. */
export type CommandOutcome = 'ok' | 'refused' | 'denied' | 'error';

/** A shard's connection as the metrics and /healthz see it. */
export interface ShardSnapshot {
  shard: number;
  ready: boolean;
  /** Seconds since the connection was lost, 0 while ready. */
  outageSeconds: number;
}

/** What is read at scrape time rather than counted as it happens; each is set by whoever owns the facts. */
export interface ScrapeSources {
  tasksByState?: () => Record<string, number>;
  queuedRecords?: () => number;
  gateway?: () => readonly ShardSnapshot[];
}

export interface BotMetrics {
  readonly registry: Registry;
  /** Per run: fast metrics (see fast.ts); label children are looked up once and kept. */
  readonly runs: FastCounter<'kind' | 'outcome'>;
  readonly runDuration: FastHistogram<'kind'>;
  readonly firingLateness: FastHistogram<never>;
  readonly journalWriteDuration: Histogram<'what'>;
  readonly journalWriteFailures: Counter<'what'>;
  readonly rateLimited: Counter<'method' | 'route' | 'scope'>;
  readonly commands: Counter<'subcommand' | 'outcome'>;
  readonly commandAck: Histogram;
  readonly gatewayReconnectAttempts: Counter<'shard'>;
  /** Set the readers of scrape-time values here (the runtime, the database, the gateway tracker). */
  readonly sources: ScrapeSources;
}

export interface MetricsOptions {
  /** prom-client's process and Node.js metrics (CPU, memory, event-loop lag, GC). Default true. */
  defaultMetrics?: boolean;
  /**
   * The gateway shards this process runs. With more than one shard in all, every series gets a `shards`
   * label ("0" or "0,1"), so the processes of one bot can be told apart (and summed) in Prometheus.
   */
  shards?: { count: number; ids: readonly number[] };
}

export function createMetrics(options: MetricsOptions = {}): BotMetrics {
  const registry = new Registry();
  if (options.shards !== undefined && options.shards.count > 1) {
    registry.setDefaultLabels({ shards: [...options.shards.ids].sort((a, b) => a - b).join(',') });
  }
  const registers = [registry];
  const sources: ScrapeSources = {};
  const name = (suffix: string) => `${METRICS_PREFIX}${suffix}`;

  // Unprefixed (process_*, nodejs_*): the names the usual Node.js dashboards and alerts expect.
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const metrics: BotMetrics = {
    registry,
    sources,
    runs: new FastCounter({
      name: name('task_runs_total'),
      help: 'Recorded task run attempts, by handler kind and outcome (gave_up: an error after the whole retry window).',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
    runDuration: new FastHistogram({
      name: name('task_run_duration_seconds'),
      help: 'How long a run attempt took, from its start to its end, by handler kind.',
      labelNames: ['kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    firingLateness: new FastHistogram({
      name: name('task_firing_lateness_seconds'),
      help: "How late a slot's first attempt started after its scheduled time.",
      labelNames: [],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    journalWriteDuration: new Histogram({
      name: name('db_journal_write_duration_seconds'),
      help: 'How long a run-journal write to the database took: intents (attempts starting) or records (finished).',
      labelNames: ['what'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    journalWriteFailures: new Counter({
      name: name('db_journal_write_failures_total'),
      help: 'Run-journal writes the database refused (busy, full, read-only); records stay queued and retry.',
      labelNames: ['what'] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: name('discord_rest_429_total'),
      help: "HTTP 429 answers from Discord's REST API, by method and route template (ids replaced by :id).",
      labelNames: ['method', 'route', 'scope'] as const,
      registers,
    }),
    commands: new Counter({
      name: name('commands_total'),
      help: '/task commands answered, by subcommand and outcome (ok, refused, denied, error).',
      labelNames: ['subcommand', 'outcome'] as const,
      registers,
    }),
    commandAck: new Histogram({
      name: name('command_ack_seconds'),
      help: "Time from a /task command's creation to Discord accepting its first answer (reply or defer).",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 2.5, 3, 5, 10],
      registers,
    }),
    gatewayReconnectAttempts: new Counter({
      name: name('gateway_reconnect_attempts_total'),
      help: 'Attempts to reconnect to the Discord gateway after the connection was lost, by shard.',
      labelNames: ['shard'] as const,
      registers,
    }),
  };

  new Gauge({
    name: name('tasks'),
    help: 'Tasks in the database, by state.',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const counts = sources.tasksByState?.();
      if (!counts) return;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: name('run_records_queued'),
    help: 'Finished runs waiting to be written to the database.',
    registers,
    collect() {
      const queued = sources.queuedRecords?.();
      if (queued !== undefined) this.set(queued);
    },
  });
  new Gauge({
    name: name('gateway_ready'),
    help: 'Whether the shard is connected to the Discord gateway and ready (1) or not (0).',
    labelNames: ['shard'] as const,
    registers,
    collect() {
      for (const s of sources.gateway?.() ?? []) this.set({ shard: String(s.shard) }, s.ready ? 1 : 0);
    },
  });
  new Gauge({
    name: name('gateway_outage_seconds'),
    help: 'How long the shard has been without a gateway connection (0 while connected).',
    labelNames: ['shard'] as const,
    registers,
    collect() {
      for (const s of sources.gateway?.() ?? []) this.set({ shard: String(s.shard) }, s.outageSeconds);
    },
  });
  return metrics;
}
