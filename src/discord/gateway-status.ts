// The gateway's ups and downs, per shard: what /healthz and the metrics report, and what the log says. While
// Discord is unreachable, discord.js retries about twice a second (a fixed 500 ms pause in @discordjs/ws, not
// configurable); logging each attempt made ~6,500 lines an hour. So: the drop once, one line a minute with the
// attempt count, and the recovery with the outage's length.
import { type Client, type ClientEvents, Events, Status } from 'discord.js';
import type { Logger } from '../log.js';
import { formatDuration } from '../metrics/health.js';
import type { BotMetrics, ShardSnapshot } from '../metrics/metrics.js';

/** Reads the time and repeats a callback; the default is the real clock, tests pass a hand-driven one. */
export interface GatewayClock {
  now(): number;
  every(ms: number, callback: () => void): { stop(): void };
}

export const realClock: GatewayClock = {
  now: () => Date.now(),
  every(ms, callback) {
    const timer = setInterval(callback, ms);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  },
};

/** How often an outage in progress is logged. */
export const OUTAGE_LOG_EVERY_MS = 60_000;

export interface GatewayTrackerOptions {
  log: Logger;
  metrics?: BotMetrics;
  clock?: GatewayClock;
}

export interface GatewayTracker {
  /** Undefined while every shard is ready, else why not (`gateway: reconnecting for 2m13s (attempt 14)`). */
  health(): string | undefined;
  shards(): ShardSnapshot[];
  stop(): void;
}

interface ShardState {
  ready: boolean;
  /** When the connection was lost; undefined while ready, or before the first READY. */
  downSince: number | undefined;
  attempts: number;
  /** The last connection error of the outage (discord.js reports each failed attempt). */
  lastError: string | undefined;
  /** Set when Discord closed the connection for good: discord.js will not reconnect. */
  closedForGood: number | undefined;
  ticker: { stop(): void } | undefined;
}

/** Follows the client's shards from now on (attach before login to see the first READY too). */
export function trackGateway(client: Client, options: GatewayTrackerOptions): GatewayTracker {
  const { log, metrics } = options;
  const clock = options.clock ?? realClock;
  const states = new Map<number, ShardState>();
  const stateOf = (shard: number): ShardState => {
    let state = states.get(shard);
    if (state === undefined) {
      state = {
        ready: false,
        downSince: undefined,
        attempts: 0,
        lastError: undefined,
        closedForGood: undefined,
        ticker: undefined,
      };
      states.set(shard, state);
      // Shown as 0 from the start, so that increase() and alerts see the first outage's attempts.
      metrics?.gatewayReconnectAttempts.labels(String(shard)).inc(0);
    }
    return state;
  };
  for (const [id, shard] of client.ws.shards) stateOf(id).ready = shard.status === Status.Ready;

  const stillDown = (shard: number, state: ShardState): void => {
    if (state.downSince === undefined) return;
    const downFor = formatDuration(clock.now() - state.downSince);
    log.warn(
      { shard, downFor, attempts: state.attempts, lastError: state.lastError },
      `gateway still unreachable after ${downFor}; ${state.attempts} reconnect attempts so far`,
    );
  };

  const up = (shard: number, how: 'resumed' | 'ready', replayed?: number): void => {
    const state = stateOf(shard);
    state.ready = true;
    state.closedForGood = undefined;
    if (state.downSince === undefined) return;
    const downFor = formatDuration(clock.now() - state.downSince);
    const fields = {
      shard,
      downFor,
      attempts: state.attempts,
      ...(replayed === undefined ? {} : { replayed }),
    };
    log.info(
      fields,
      how === 'resumed'
        ? `gateway connection resumed after ${downFor} (${state.attempts} reconnect attempts)`
        : `gateway connected again after ${downFor} with a new session (${state.attempts} reconnect attempts)`,
    );
    state.ticker?.stop();
    Object.assign(state, { downSince: undefined, attempts: 0, lastError: undefined, ticker: undefined });
  };

  const onReady = (shard: number) => up(shard, 'ready');
  const onResume = (shard: number, replayed: number) => up(shard, 'resumed', replayed);
  const onReconnecting = (shard: number) => {
    const state = stateOf(shard);
    state.ready = false;
    state.attempts++;
    metrics?.gatewayReconnectAttempts.labels(String(shard)).inc();
    if (state.downSince !== undefined) return;
    state.downSince = clock.now();
    log.warn({ shard }, 'gateway connection lost; reconnecting');
    state.ticker = clock.every(OUTAGE_LOG_EVERY_MS, () => stillDown(shard, state));
  };
  const onError = (error: Error, shard: number) => {
    const state = stateOf(shard);
    // Each failed attempt of an outage reports its error: keep the last for the minute line instead.
    if (state.downSince !== undefined) state.lastError = error.message;
    else log.warn({ err: error, shard }, 'gateway connection error');
  };
  const onDisconnect = (event: { code: number }, shard: number) => {
    const state = stateOf(shard);
    state.ready = false;
    state.closedForGood = event.code;
    state.ticker?.stop();
    state.ticker = undefined;
    state.downSince ??= clock.now();
  };
  const onWarn = (message: string) => log.warn({ source: 'discord.js' }, message);
  // Each listener's removal is made where it is added, so stop() cannot miss one added later.
  const listen = <E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void) => {
    client.on(event, listener);
    return () => client.off(event, listener);
  };
  const unlisten = [
    listen(Events.ShardReady, onReady),
    listen(Events.ShardResume, onResume),
    listen(Events.ShardReconnecting, onReconnecting),
    listen(Events.ShardError, onError),
    listen(Events.ShardDisconnect, onDisconnect),
    listen(Events.Warn, onWarn),
  ];

  const shards = (): ShardSnapshot[] =>
    [...states].map(([shard, state]) => ({
      shard,
      ready: state.ready,
      outageSeconds: state.downSince === undefined ? 0 : (clock.now() - state.downSince) / 1000,
    }));
  if (metrics) metrics.sources.gateway = shards;

  return {
    shards,
    health() {
      if (states.size === 0) return 'gateway: not connected yet';
      const named = states.size > 1;
      for (const [shard, state] of states) {
        if (state.ready) continue;
        const who = named ? `gateway shard ${shard}` : 'gateway';
        if (state.closedForGood !== undefined) {
          return `${who}: closed by Discord for good (close code ${state.closedForGood})`;
        }
        if (state.downSince === undefined) return `${who}: not connected yet`;
        const downFor = formatDuration(clock.now() - state.downSince);
        return `${who}: reconnecting for ${downFor} (attempt ${state.attempts})`;
      }
      return undefined;
    },
    stop() {
      for (const off of unlisten) off();
      for (const state of states.values()) state.ticker?.stop();
      if (metrics?.sources.gateway === shards) delete metrics.sources.gateway;
    },
  };
}
