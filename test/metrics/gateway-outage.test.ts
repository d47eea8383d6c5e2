// The gateway tracker on a real discord.js client against the emulator: an outage (the emulator closes the
// socket and refuses every reconnect) is logged once, then once a minute on a hand-driven clock, then its
// recovery with its length; /healthz's reason and the gateway metrics follow it.
import { afterEach, describe, expect, it } from 'vitest';
import { type GatewayClock, type GatewayTracker, trackGateway } from '../../src/discord/gateway-status.js';
import { type BotMetrics, createMetrics } from '../../src/metrics/metrics.js';
import { type Harness, nextClientSession, startHarness } from '../emulator/harness.js';
import { captureLog, eventually, type LogCapture } from '../handlers/helpers.js';

/** A clock the test moves by hand: `every` callbacks run as `advance` passes their times. */
function handClock(start = Date.UTC(2026, 0, 5, 12)) {
  let now = start;
  const timers: { everyMs: number; next: number; callback: () => void; stopped: boolean }[] = [];
  const clock: GatewayClock & { advance(ms: number): void; running(): number } = {
    now: () => now,
    every(everyMs, callback) {
      const timer = { everyMs, next: now + everyMs, callback, stopped: false };
      timers.push(timer);
      return {
        stop: () => {
          timer.stopped = true;
        },
      };
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => !t.stopped && t.next <= end).sort((a, b) => a.next - b.next)[0];
        if (!due) break;
        now = due.next;
        due.next += due.everyMs;
        due.callback();
      }
      now = end;
    },
    running: () => timers.filter((t) => !t.stopped).length,
  };
  return clock;
}

const LOST = 'gateway connection lost; reconnecting';
const linesLike = (logs: LogCapture, pattern: RegExp) =>
  logs.lines.filter((line) => pattern.test(String(line.msg)));
const warnLines = (logs: LogCapture) => logs.lines.filter((line) => line.level === 40);

async function metricValue(metrics: BotMetrics, name: string, labels: Record<string, string>) {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as { labels: Record<string, string | number>; value: number }[];
  return values.find((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))?.value;
}

let harness: Harness | undefined;
let tracker: GatewayTracker | undefined;
afterEach(async () => {
  tracker?.stop();
  tracker = undefined;
  await harness?.close();
  harness = undefined;
});

describe('a gateway outage', () => {
  it('logs the drop once, one line a minute, and the recovery with its length; health and metrics follow', async () => {
    harness = await startHarness();
    const { emulator, client } = harness;
    const logs = captureLog();
    const clock = handClock();
    const metrics = createMetrics({ defaultMetrics: false });
    tracker = trackGateway(client, { log: logs.log, metrics, clock });
    expect(tracker.health()).toBeUndefined();
    expect(await metricValue(metrics, 'metronome_gateway_ready', { shard: '0' })).toBe(1);

    emulator.gateway.refuseConnections();
    // discord.js retries every ~500 ms; each refused attempt also reports a connection error.
    await eventually(() => expect(emulator.gateway.refusedConnections).toBeGreaterThanOrEqual(4), 10_000);
    expect(logs.lines.filter((line) => line.msg === LOST)).toHaveLength(1);
    expect(warnLines(logs)).toHaveLength(1);
    expect(tracker.health()).toMatch(/^gateway: reconnecting for 0s \(attempt \d+\)$/);
    expect(await metricValue(metrics, 'metronome_gateway_ready', { shard: '0' })).toBe(0);

    clock.advance(30_000);
    expect(tracker.health()).toMatch(/^gateway: reconnecting for 30s \(attempt \d+\)$/);
    expect(await metricValue(metrics, 'metronome_gateway_outage_seconds', { shard: '0' })).toBe(30);
    clock.advance(30_000);
    const [first] = linesLike(logs, /^gateway still unreachable/);
    expect(first?.msg).toMatch(/^gateway still unreachable after 1m00s; \d+ reconnect attempts so far$/);
    expect(first).toMatchObject({ shard: 0, downFor: '1m00s', lastError: expect.stringContaining('503') });
    clock.advance(59_000);
    expect(linesLike(logs, /^gateway still unreachable/)).toHaveLength(1);
    clock.advance(1_000);
    expect(linesLike(logs, /^gateway still unreachable/).map((l) => l.downFor)).toEqual(['1m00s', '2m00s']);

    const resumed = nextClientSession(client);
    emulator.gateway.acceptConnections();
    expect(await resumed).toBe('resumed');
    const [back] = linesLike(logs, /^gateway connection resumed/);
    expect(back?.msg).toMatch(/^gateway connection resumed after 2m00s \(\d+ reconnect attempts\)$/);
    const attempts = back?.attempts as number;
    // One attempt per refusal, plus the one that got through.
    expect(attempts).toBeGreaterThanOrEqual(emulator.gateway.refusedConnections);
    expect(tracker.health()).toBeUndefined();
    expect(await metricValue(metrics, 'metronome_gateway_ready', { shard: '0' })).toBe(1);
    expect(await metricValue(metrics, 'metronome_gateway_outage_seconds', { shard: '0' })).toBe(0);
    expect(await metricValue(metrics, 'metronome_gateway_reconnect_attempts_total', { shard: '0' })).toBe(
      attempts,
    );

    // Over: no more minute lines, and the three lines were all the outage wrote.
    clock.advance(5 * 60_000);
    expect(clock.running()).toBe(0);
    expect(linesLike(logs, /^gateway/).map((line) => line.msg)).toHaveLength(4);
  });

  it('says so when Discord closes the connection for good', async () => {
    harness = await startHarness();
    const logs = captureLog();
    tracker = trackGateway(harness.client, { log: logs.log, clock: handClock() });
    const closed = new Promise<void>((resolve) => harness?.client.once('shardDisconnect', () => resolve()));
    harness.emulator.gateway.close(4004);
    await closed;
    expect(tracker.health()).toBe('gateway: closed by Discord for good (close code 4004)');
  });

  it('is not ready before the first READY', async () => {
    harness = await startHarness();
    const logs = captureLog();
    const metrics = createMetrics({ defaultMetrics: false });
    const { createClient } = await import('../../src/discord/client.js');
    const fresh = createClient({
      token: harness.emulator.token,
      apiBase: harness.emulator.apiBase,
      testing: true,
    });
    tracker = trackGateway(fresh, { log: logs.log, metrics });
    expect(tracker.health()).toBe('gateway: not connected yet');
    const ready = new Promise<void>((resolve) => fresh.once('clientReady', () => resolve()));
    await fresh.login();
    await ready;
    expect(tracker.health()).toBeUndefined();
    expect(logs.lines).toEqual([]);
    await fresh.destroy();
  });

  it('leaves no listener on the client once stopped', async () => {
    const { createClient } = await import('../../src/discord/client.js');
    const client = createClient({ token: 'not-a-real-token', testing: true });
    const events = [
      'shardReady',
      'shardResume',
      'shardReconnecting',
      'shardError',
      'shardDisconnect',
      'warn',
    ];
    const count = () => events.map((event) => client.listenerCount(event));
    const before = count();
    const stopped = trackGateway(client, { log: captureLog().log });
    expect(count()).toEqual(before.map((n) => n + 1));
    stopped.stop();
    expect(count()).toEqual(before);
    await client.destroy();
  });
});
