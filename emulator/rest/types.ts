import type { IncomingHttpHeaders } from 'node:http';

export interface RestRequest {
  method: string;
  /** Decoded path below the API base, e.g. `/webhooks/1/abc/messages/@original`. */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface RestResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type RouteHandler = (request: RestRequest) => RestResponse | Promise<RestResponse>;

export interface RouteDefinition {
  method: string;
  /** `/channels/:channelId/messages`: `:name` matches one segment. */
  pattern: string;
  handler: RouteHandler;
  /** Interaction callbacks and webhook-token routes need no bot token (and skip the global limit). */
  auth?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** The pattern that served it, or null for an unknown route. */
  route: string | null;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: unknown;
  status: number;
  response: unknown;
  at: number;
}

export const ok = (body: unknown, status = 200): RestResponse => ({ status, body });
export const noContent = (): RestResponse => ({ status: 204 });
