import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ATTACHMENTS_PATH, type AttachmentStore } from '../attachments.js';
import { HttpError } from '../errors.js';
import { WaitableLog, type WaitOptions } from '../log.js';
import { isMultipart, parseJson, parseMultipart } from '../multipart.js';
import { type FaultAction, matchesRequest, type RequestMatcher, RestFaults } from './faults.js';
import { GlobalLimiter, rateLimitedResponse } from './rate-limits.js';
import type { Router } from './router.js';
import type { RecordedRequest, RestRequest, RestResponse } from './types.js';

export const API_PREFIX = '/api/v10';

export interface RestServerOptions {
  router: Router;
  /** The CDN side: files served at their attachment urls, outside the API. */
  attachments: AttachmentStore;
  token: string;
  globalRequestsPerSecond: number;
  reportUnexpected: (description: string) => void;
}

/**
 * The HTTP side: authentication, the global rate limit, fault injection, routing, Discord-shaped errors,
 * and a record of every request with its answer.
 */
export class RestServer {
  readonly requests = new WaitableLog<RecordedRequest>();
  readonly faults = new RestFaults();
  readonly #global: GlobalLimiter;
  readonly #hanging = new Set<ServerResponse>();

  constructor(private readonly options: RestServerOptions) {
    this.#global = new GlobalLimiter(options.globalRequestsPerSecond);
  }

  waitForRequest(
    matcher: RequestMatcher & { status?: number },
    options?: WaitOptions,
  ): Promise<RecordedRequest> {
    return this.requests.waitFor(
      (r) =>
        matchesRequest(matcher, r.method, r.path) &&
        (matcher.status === undefined || r.status === matcher.status),
      `a ${matcher.method ?? ''} request to ${String(matcher.path)}`,
      options,
    );
  }

  /** Ends requests left hanging by a fault, so that the server can close. */
  releaseHanging(): void {
    for (const response of this.#hanging) response.destroy();
    this.#hanging.clear();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = (req.method ?? 'GET').toUpperCase();
    const rawBody = await readBody(req);
    const path = url.pathname.startsWith(API_PREFIX) ? url.pathname.slice(API_PREFIX.length) : url.pathname;
    let decodedPath: string;
    try {
      decodedPath = decodeURIComponent(path);
    } catch {
      decodedPath = path;
    }
    const match = url.pathname.startsWith(API_PREFIX) ? this.options.router.match(method, path) : null;
    const body = await parseBody(req.headers['content-type'], rawBody);
    const record = (response: RestResponse): void => {
      this.requests.push({
        method,
        path: decodedPath,
        route: match?.route.pattern ?? null,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body,
        status: response.status,
        response: response.body,
        at: Date.now(),
      });
    };

    const fault = this.faults.take(method, decodedPath);
    if (fault?.kind === 'hang') {
      // Recorded with status 0: it was received but will never be answered.
      record({ status: 0 });
      this.#hanging.add(res);
      res.on('close', () => this.#hanging.delete(res));
      return;
    }
    if (fault?.kind === 'delay') await sleep(fault.ms);

    const response = await this.#respond(method, decodedPath, req, url, body, match, fault);
    record(response);
    send(res, response);
  }

  async #respond(
    method: string,
    path: string,
    req: IncomingMessage,
    url: URL,
    body: unknown,
    match: ReturnType<Router['match']>,
    fault: FaultAction | null,
  ): Promise<RestResponse> {
    if (!match && method === 'GET' && url.pathname.startsWith(`${ATTACHMENTS_PATH}/`)) {
      return fault?.kind === 'fail' ? failure(fault) : this.#download(url.pathname);
    }
    if (!match) {
      this.options.reportUnexpected(`${method} ${url.pathname}${url.search} (no such route in the emulator)`);
      return { status: 404, body: { message: '404: Not Found', code: 0 } };
    }
    const needsAuth = match.route.auth ?? true;
    if (needsAuth && req.headers.authorization !== `Bot ${this.options.token}`) {
      return { status: 401, body: { message: '401: Unauthorized', code: 0 } };
    }
    if (!req.headers['user-agent']) this.options.reportUnexpected(`${method} ${path} without a User-Agent`);
    // Interaction endpoints are not bound to the global rate limit.
    if (needsAuth) {
      const waitMs = this.#global.take();
      if (waitMs > 0) return rateLimitedResponse(waitMs, 'global');
    }
    if (fault?.kind === 'fail') return failure(fault);
    try {
      const request: RestRequest = {
        method,
        path,
        params: match.params,
        query: url.searchParams,
        headers: req.headers,
        body,
      };
      return await match.route.handler(request);
    } catch (error) {
      if (error instanceof HttpError) return { status: error.status, body: error.body() };
      this.options.reportUnexpected(`${method} ${path} crashed the emulator: ${String(error)}`);
      return { status: 500, body: { message: '500: Internal Server Error', code: 0 } };
    }
  }

  /** A file from the CDN side: no token needed (the url is the secret), no rate limit. */
  #download(pathname: string): RestResponse {
    const stored = this.options.attachments.serve(pathname);
    if (!stored) return { status: 404, body: { message: 'This content is no longer available.', code: 0 } };
    return {
      status: 200,
      body: stored.data,
      headers: {
        'content-type': stored.contentType,
        'content-disposition': `attachment; filename="${encodeURIComponent(stored.filename)}"`,
      },
    };
  }
}

function failure(fault: Extract<FaultAction, { kind: 'fail' }>): RestResponse {
  if (fault.status === 429) {
    const response = rateLimitedResponse(
      (fault.retryAfterSeconds ?? 1) * 1_000,
      fault.global ? 'global' : 'user',
      {},
      true,
    );
    return fault.body === undefined ? response : { ...response, body: fault.body };
  }
  const defaults: Record<number, unknown> = {
    403: { message: 'Missing Permissions', code: 50013 },
    404: { message: '404: Not Found', code: 0 },
  };
  return {
    status: fault.status,
    body: fault.body ?? defaults[fault.status] ?? { message: `${fault.status}: Injected failure`, code: 0 },
  };
}

function send(res: ServerResponse, response: RestResponse): void {
  const headers: Record<string, string> = { ...response.headers };
  if (response.body === undefined || response.status === 204) {
    res.writeHead(response.status, headers).end();
    return;
  }
  if (Buffer.isBuffer(response.body)) {
    res.writeHead(response.status, headers).end(response.body);
    return;
  }
  headers['content-type'] = 'application/json';
  res.writeHead(response.status, headers).end(JSON.stringify(response.body));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * JSON bodies, and multipart bodies: their `payload_json` with the `files[n]` parts attached (filesOf).
 * A multipart body that is not a valid form is kept as its text, as a JSON body that does not parse is.
 */
async function parseBody(contentType: string | undefined, raw: Buffer): Promise<unknown> {
  if (raw.length === 0) return undefined;
  if (contentType !== undefined && isMultipart(contentType)) {
    try {
      return await parseMultipart(contentType, raw);
    } catch {
      return raw.toString('utf8');
    }
  }
  return parseJson(raw.toString('utf8'));
}
