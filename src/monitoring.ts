// What an operator watches, wired onto a running bot: the gateway tracker (always: it also keeps an outage
// from flooding the log) and, when METRICS_PORT is set, the metrics and the /metrics + /healthz listener.
// Part of the composition root, beside bot.ts: it joins the Discord, runtime and database layers.
import type { Client } from 'discord.js';
import type { DatabaseConnection } from './db/index.js';
import { countTasksByState } from './db/stats.js';
import { countRateLimits } from './discord/client.js';
import { type GatewayClock, trackGateway } from './discord/gateway-status.js';
import type { Logger } from './log.js';
import { checkHealth, type HealthCheck, watchDatabaseHealth, watchEventLoop } from './metrics/health.js';
import type { BotMetrics } from './metrics/metrics.js';
import { type InstrumentedRuntime, instrumentRuntime } from './metrics/runtime.js';
import { type MetricsServer, startMetricsServer } from './metrics/server.js';

export interface MonitoringOptions {
  client: Client;
  runtime: InstrumentedRuntime;
  /** The handler kinds loaded, whose run series start at 0. */
  kinds?: readonly string[];
  database: Pick<DatabaseConnection, 'db' | 'sqlite'>;
  log: Logger;
  /** The bot's metrics (created before the assembly, whose router counts commands into them); none: no listener. */
  metrics?: BotMetrics;
  /** Where to serve /metrics and /healthz (port 0: any free port); only with `metrics`. */
  listen?: { port: number; host: string };
  gatewayClock?: GatewayClock;
}

export interface Monitoring {
  /** `http://127.0.0.1:9464` while the listener runs. */
  readonly url: string | undefined;
  /** What /healthz answers: undefined when healthy, else the one-line reason. */
  health(): Promise<string | undefined>;
  stop(): Promise<void>;
}

export async function startMonitoring(options: MonitoringOptions): Promise<Monitoring> {
  const { client, runtime, database, log, metrics } = options;
  const undo: (() => unknown)[] = [];
  const stop = async () => {
    for (const step of undo.splice(0).reverse()) await step();
  };
  const gateway = trackGateway(client, { log, metrics, clock: options.gatewayClock });
  undo.push(() => gateway.stop());
  const databaseHealth = watchDatabaseHealth({
    sqlite: database.sqlite,
    events: runtime.events,
    queuedRecords: () => runtime.queuedRecords,
  });
  undo.push(() => databaseHealth.stop());
  const checks: HealthCheck[] = [() => gateway.health(), databaseHealth.check];
  const health = () => checkHealth(checks);
  if (!metrics) return { url: undefined, health, stop };

  let server: MetricsServer | undefined;
  try {
    undo.push(instrumentRuntime(runtime, metrics, options.kinds));
    undo.push(countRateLimits(client, metrics));
    metrics.sources.tasksByState = () => countTasksByState(database.db);
    const eventLoop = watchEventLoop();
    undo.push(() => eventLoop.stop());
    checks.push(eventLoop.check);
    if (options.listen) {
      server = await startMetricsServer({ ...options.listen, registry: metrics.registry, health, log });
      const listening = server;
      undo.push(() => listening.close());
      log.info({ url: server.url }, `serving ${server.url}/metrics and ${server.url}/healthz`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: server?.url, health, stop };
}
