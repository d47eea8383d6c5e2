// The opt-in HTTP listener (METRICS_PORT): GET /metrics for Prometheus, GET /healthz for a supervisor or an
// uptime checker. Plain node:http; nothing else is served.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { DEFAULT_METRICS_HOST } from '../config.js';
import type { Logger } from '../log.js';

export interface MetricsServerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  host?: string;
  registry: Registry;
  /** Undefined when healthy, else the one-line reason for the 503. */
  health: () => Promise<string | undefined>;
  log: Logger;
}

export interface MetricsServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The listener could not start; the message names METRICS_PORT or METRICS_HOST and what to change. */
export class MetricsListenError extends Error {
  override readonly name = 'MetricsListenError';
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const host = options.host ?? DEFAULT_METRICS_HOST;
  const server = createServer((request, response) => {
    answer(request, response, options).catch((error: unknown) => {
      options.log.error({ err: error, path: request.url }, 'metrics listener failed to answer');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('internal error\n');
    });
  });
  await listen(server, options.port, host);
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        // A scraper's keep-alive connection must not hold the bot's shutdown.
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(listenError(error, port, host));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function listenError(error: NodeJS.ErrnoException, port: number, host: string): Error {
  const say = (sentence: string) => new MetricsListenError(sentence, { cause: error });
  switch (error.code) {
    case 'EADDRINUSE':
      return say(
        `METRICS_PORT ${port} is already in use on ${host}: another program (or another Metronome) listens ` +
          'there. Pick a free port, or stop that program.',
      );
    case 'EACCES':
      return say(
        `METRICS_PORT ${port} needs privileges this user does not have (ports below 1024 do). Pick a port ` +
          'above 1023.',
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return say(
        `METRICS_HOST ${host} is not an address of this machine. Use 127.0.0.1 (the default), 0.0.0.0 for ` +
          'every interface, or one of its own addresses.',
      );
    default:
      return error;
  }
}

async function answer(request: IncomingMessage, response: ServerResponse, options: MetricsServerOptions) {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (path !== '/metrics' && path !== '/healthz') {
    return text(response, 404, 'not found: this listener serves /metrics and /healthz\n');
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    return text(response, 405, `method not allowed: ${path} answers GET\n`);
  }
  if (path === '/metrics') {
    const body = await options.registry.metrics();
    response.writeHead(200, { 'content-type': options.registry.contentType });
    response.end(request.method === 'HEAD' ? undefined : body);
    return;
  }
  const reason = await options.health();
  const body = reason === undefined ? 'ok\n' : `${reason}\n`;
  return text(response, reason === undefined ? 200 : 503, request.method === 'HEAD' ? '' : body);
}

function text(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  response.end(body);
}
