import type { RouteDefinition } from './types.js';

export interface RouteMatch {
  route: RouteDefinition;
  params: Record<string, string>;
}

/** Segments of a path, each percent-decoded (discord.js sends `%40original`). */
export function splitPath(path: string): string[] {
  return path
    .split('/')
    .filter((segment) => segment.length > 0)
    .map((segment) => decodeURIComponent(segment));
}

/** Matches `:name` segments as parameters and `*` as "anything from here on". */
export function matchPattern(pattern: string, segments: readonly string[]): Record<string, string> | null {
  const parts = splitPath(pattern);
  const params: Record<string, string> = {};
  for (const [index, part] of parts.entries()) {
    if (part === '*') return params;
    const segment = segments[index];
    if (segment === undefined) return null;
    if (part.startsWith(':')) params[part.slice(1)] = segment;
    else if (part !== segment) return null;
  }
  return parts.length === segments.length ? params : null;
}

export class Router {
  readonly #routes: RouteDefinition[] = [];

  add(...routes: RouteDefinition[]): void {
    this.#routes.push(...routes);
  }

  match(method: string, path: string): RouteMatch | null {
    const segments = splitPath(path);
    for (const route of this.#routes) {
      if (route.method !== method) continue;
      const params = matchPattern(route.pattern, segments);
      if (params) return { route, params };
    }
    return null;
  }
}
