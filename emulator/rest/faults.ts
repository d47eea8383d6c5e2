import { matchPattern, splitPath } from './router.js';

/** Which requests a fault applies to: a method (any if omitted) and a path pattern or regular expression. */
export interface RequestMatcher {
  method?: string;
  /** `/channels/:id/messages`-style pattern (`*` matches the rest), or a RegExp tested on the decoded path. */
  path: string | RegExp;
}

export type FaultAction =
  | { kind: 'fail'; status: number; body?: unknown; retryAfterSeconds?: number; global?: boolean }
  | { kind: 'delay'; ms: number }
  | { kind: 'hang' };

interface FaultRule {
  matcher: RequestMatcher;
  action: FaultAction;
  remaining: number;
}

export function matchesRequest(matcher: RequestMatcher, method: string, path: string): boolean {
  if (matcher.method && matcher.method.toUpperCase() !== method) return false;
  return typeof matcher.path === 'string'
    ? matchPattern(matcher.path, splitPath(path)) !== null
    : matcher.path.test(path);
}

/** Fault rules for the next N matching REST requests, applied in the order they were added. */
export class RestFaults {
  #rules: FaultRule[] = [];

  /** Answer the next `times` matching requests with `status` (429 gets Retry-After and a rate-limit body). */
  fail(
    matcher: RequestMatcher,
    fault: { status: number; times?: number; body?: unknown; retryAfterSeconds?: number; global?: boolean },
  ): void {
    const { times = 1, ...action } = fault;
    this.#rules.push({ matcher, action: { kind: 'fail', ...action }, remaining: times });
  }

  /** Delay the next `times` matching requests by `ms` before serving them normally. */
  delay(matcher: RequestMatcher, fault: { ms: number; times?: number }): void {
    this.#rules.push({ matcher, action: { kind: 'delay', ms: fault.ms }, remaining: fault.times ?? 1 });
  }

  /** Never answer the next `times` matching requests (until the emulator closes). */
  hang(matcher: RequestMatcher, fault: { times?: number } = {}): void {
    this.#rules.push({ matcher, action: { kind: 'hang' }, remaining: fault.times ?? 1 });
  }

  clear(): void {
    this.#rules = [];
  }

  /** The action for this request, consuming one use of the first matching rule. */
  take(method: string, path: string): FaultAction | null {
    const rule = this.#rules.find((r) => r.remaining > 0 && matchesRequest(r.matcher, method, path));
    if (!rule) return null;
    rule.remaining--;
    this.#rules = this.#rules.filter((r) => r.remaining > 0);
    return rule.action;
  }
}
