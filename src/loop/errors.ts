// Which errors a loop retries instead of failing. The engine cannot import discord.js or undici, so the
// default "transient" errors are recognised by shape (duck typing), the way discord.py lists OSError,
// aiohttp.ClientError, GatewayNotFound, ConnectionClosed and asyncio.TimeoutError by class.

/** A constructor of Error (or of a subclass): what `addExceptionType` accepts. */
// biome-ignore lint/suspicious/noExplicitAny: constructor parameters of arbitrary error classes vary.
export type ErrorClass = abstract new (...args: any[]) => Error;

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

// discord.js / @discordjs/ws / undici error names that mean "the connection, not the request, went wrong".
// 'AbortError' is how @discordjs/rest reports a request that hit its own timeout (it aborts the fetch with
// no reason: "This operation was aborted"). The loop's own cancel() aborts with a LoopCancelledError, which
// is never transient; and the engine ends a cancelled run before it looks at the error at all.
// 'TransientError' is ours: a handler module that got a second copy of the package (a CommonJS folder beside
// the compiled bot) throws a TransientError of that copy's class, which instanceof alone would not see.
const TRANSIENT_NAMES = new Set([
  'TransientError',
  'TimeoutError',
  'AbortError',
  'ConnectTimeoutError',
  'HeadersTimeoutError',
  'BodyTimeoutError',
  'SocketError',
  'WebSocketError',
  'WebSocketShardError',
  'GatewayError',
  'ConnectionClosedError',
]);

/** What a loop's signal is aborted with by cancel(): an AbortError the loop asked for, so never retried. */
export class LoopCancelledError extends DOMException {
  constructor() {
    super('The loop was cancelled', 'AbortError');
  }
}

/**
 * Whether `error` looks like a transient network or Discord-side failure: a socket error code, an HTTP
 * status >= 500 (discord.js HTTPError/DiscordAPIError), a gateway/websocket error, a timeout or an aborted
 * request (not the loop's own cancellation). Follows `cause` a few levels, because fetch wraps socket
 * errors as `TypeError('fetch failed', { cause })`.
 */
export function isTransientError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    if (current instanceof LoopCancelledError) return false;
    const { code, status, name } = current as { code?: unknown; status?: unknown; name?: unknown };
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    if (typeof status === 'number' && status >= 500 && status <= 599) return true;
    if (typeof name === 'string' && TRANSIENT_NAMES.has(name)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The default exception type. `err instanceof TransientError` is true for real instances and for any error
 * `isTransientError` recognises, so the defaults can be removed and re-added like any other class.
 */
export class TransientError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    // `this` is the class instanceof was asked about: subclasses get ordinary instanceof, and only
    // TransientError itself widens to duck typing.
    // biome-ignore lint/complexity/noUselessThisAlias: named for what it is, the class instanceof was asked about.
    // biome-ignore lint/complexity/noThisInStatic: the receiver differs for subclasses, which is the point.
    const asked: unknown = this;
    if (Function.prototype[Symbol.hasInstance].call(asked, value)) return true;
    return asked === TransientError && isTransientError(value);
  }

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TransientError';
  }
}

export const DEFAULT_EXCEPTION_TYPES: readonly ErrorClass[] = Object.freeze([TransientError]);

/** Throws a TypeError naming `method` unless every value is Error or a subclass of it. */
export function assertErrorClasses(method: string, types: readonly unknown[]): asserts types is ErrorClass[] {
  for (const type of types) {
    const isErrorClass =
      typeof type === 'function' && (type === Error || (type.prototype as unknown) instanceof Error);
    if (!isErrorClass) {
      const shown = typeof type === 'function' ? type.name || 'anonymous function' : String(type);
      throw new TypeError(`${method}() expects Error classes, got ${shown}`);
    }
  }
}

export function matchesAny(error: unknown, types: readonly ErrorClass[]): boolean {
  for (const type of types) if (error instanceof type) return true;
  return false;
}
