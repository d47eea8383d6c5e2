// The metrics listener on its own: what each path and method answers, and the start-up errors an operator
// can cause (a port already taken, a host that is not this machine's).
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsListenError, type MetricsServer, startMetricsServer } from '../../src/metrics/server.js';
import { captureLog } from '../handlers/helpers.js';

const servers: MetricsServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function start(health: () => Promise<string | undefined>, port = 0, host = '127.0.0.1') {
  const registry = new Registry();
  const counter = new Counter({
    name: 'metronome_test_total',
    help: 'A test counter.',
    registers: [registry],
  });
  const server = await startMetricsServer({ port, host, registry, health, log: captureLog().log });
  servers.push(server);
  return { server, counter, registry };
}

describe('the metrics listener', () => {
  it('serves prom-client text at /metrics and ok at /healthz', async () => {
    const { server, counter, registry } = await start(async () => undefined);
    counter.inc(3);
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toBe(registry.contentType);
    expect(await metrics.text()).toContain('metronome_test_total 3');
    const health = await fetch(`${server.url}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers 503 with the reason when unhealthy', async () => {
    let reason: string | undefined = 'gateway: reconnecting for 2m13s (attempt 14)';
    const { server } = await start(async () => reason);
    const sick = await fetch(`${server.url}/healthz`);
    expect([sick.status, await sick.text()]).toEqual([503, 'gateway: reconnecting for 2m13s (attempt 14)\n']);
    reason = undefined;
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('answers 404 to other paths and 405 to other methods', async () => {
    const { server } = await start(async () => undefined);
    for (const path of ['/', '/metrics/', '/health', '/favicon.ico', '/metrics/../etc/passwd', '/%zz']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.text()).toBe('not found: this listener serves /metrics and /healthz\n');
    }
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const response = await fetch(`${server.url}/healthz`, { method });
      expect(response.status, method).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, HEAD');
    }
    const head = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    // The query string is not part of the path.
    expect((await fetch(`${server.url}/metrics?name[]=x`)).status).toBe(200);
  });

  it('says which port is taken, in one sentence naming METRICS_PORT', async () => {
    const { server } = await start(async () => undefined);
    const taken = start(async () => undefined, server.port);
    await expect(taken).rejects.toThrowError(MetricsListenError);
    await expect(taken).rejects.toThrowError(
      `METRICS_PORT ${server.port} is already in use on 127.0.0.1: another program (or another Metronome) ` +
        'listens there. Pick a free port, or stop that program.',
    );
    // Closing frees the port for the next start.
    const port = server.port;
    await servers.splice(0)[0]?.close();
    expect((await start(async () => undefined, port)).server.port).toBe(port);
  });

  it('says when METRICS_HOST is not an address of this machine', async () => {
    // 192.0.2.1 is TEST-NET-1: documentation only, never assigned to a machine.
    await expect(start(async () => undefined, 0, '192.0.2.1')).rejects.toThrowError(
      /^METRICS_HOST 192\.0\.2\.1 is not an address of this machine\./,
    );
  });

  it('closes while a scraper keeps its connection open', async () => {
    const { server } = await start(async () => undefined);
    const response = await fetch(`${server.url}/metrics`, { headers: { connection: 'keep-alive' } });
    await response.text();
    await servers.splice(0)[0]?.close();
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrowError();
  });
});
