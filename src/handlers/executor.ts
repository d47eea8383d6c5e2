// The bridge between the TaskRuntime and the handlers: for each iteration it finds the task's handler,
// validates the stored options, resolves the guild and channel from the gateway cache and hands the handler
// a HandlerContext. Errors thrown here fail the run with a sentence `/task info` can show as is.
import {
  type Client,
  DiscordAPIError,
  type Guild,
  type GuildBasedChannel,
  type Message,
  type MessageCreateOptions,
  RESTJSONErrorCodes,
} from 'discord.js';
import type { ZodError } from 'zod';
import { DATABASE_FAULT_REASONS, databaseFaultOf } from '../db/errors.js';
import { type Db, deleteHandlerState, getHandlerState, setHandlerState, type Task } from '../db/index.js';
import type { Logger } from '../log.js';
import { TransientError } from '../loop/index.js';
import { MAX_NONCE_LENGTH, type TaskExecutor } from '../tasks/index.js';
import type { Handler, HandlerContext, HandlerStore, HandlerTask, RunningTasks } from './define.js';
import type { HandlerRegistry } from './registry.js';

export interface ExecutorDeps {
  client: Client;
  db: Db;
  /** The bot's handlers, and their per-bot state. */
  registry: HandlerRegistry;
  /** The bot's runtime, as handlers see it. */
  tasks: RunningTasks;
  log: Logger;
}

/** The TaskRuntime's `execute`: runs the handler of `task.kind` for one iteration. */
export function createExecutor({ client, db, registry, tasks, log }: ExecutorDeps): TaskExecutor {
  return async (task, run) => {
    const handler = registry.get(task.kind);
    if (!handler) {
      throw new Error(`no handler of kind "${task.kind}" is loaded (was its module removed or broken?)`);
    }
    const options = parseOptions(handler, task.options);
    const state = handlerState(registry, task.kind);
    // Not connected yet (or reconnecting from scratch): a transient state, so the loop retries with backoff.
    if (!client.isReady()) throw new TransientError('the bot is not connected to Discord yet');
    const guild = client.guilds.cache.get(task.guildId);
    if (!guild) throw new Error('the bot is no longer in that server');
    if (!guild.available) throw new TransientError('that server is unavailable (a Discord outage)');
    const channel = await lookUpTaskChannel(client, guild, task.channelId);
    if (channel === ELSEWHERE) throw new Error(channelElsewhere(task.channelId));
    const handlerLog = log.child({
      guildId: task.guildId,
      taskId: task.id,
      task: task.name,
      kind: task.kind,
      iteration: run.iteration,
    });
    let sends = 0;
    const ctx: HandlerContext<unknown, unknown> = {
      task: taskView(task, options),
      options,
      state,
      tasks,
      client,
      guild,
      channel,
      store: createHandlerStore(db, task.id),
      db,
      get signal() {
        return run.signal;
      },
      scheduledAt: run.scheduledAt,
      iteration: run.iteration,
      nonce: run.nonce,
      log: handlerLog,
      send: (message) =>
        sendToTaskChannel(client, guild, task.channelId, message, sendNonce(run.nonce, sends++)),
    };
    try {
      await handler.run(ctx);
    } catch (error) {
      // A locked (or full, read-only…) database is the machine's passing trouble, not the task's fault:
      // like a network blip, the slot is retried with backoff, and the task goes on once it is fixed.
      const fault = databaseFaultOf(error);
      if (fault !== undefined) throw new TransientError(DATABASE_FAULT_REASONS[fault], { cause: error });
      throw error;
    }
  };
}

/** What findGuildChannel returns for a channel that belongs to another server. */
export const ELSEWHERE = 'elsewhere';

/**
 * The channel `channelId` of `guild` from the gateway cache; null when it is gone or the bot cannot see
 * it; ELSEWHERE when it belongs to another server. The guild's own cache is not proof: discord.js adds a
 * channel named in an interaction to that interaction's guild, whichever server the channel is in, so a
 * forged interaction can plant another server's channel there. The channel's own guild decides.
 */
export function findGuildChannel(
  client: Client,
  guild: Guild,
  channelId: string,
): GuildBasedChannel | null | typeof ELSEWHERE {
  const known = client.channels.cache.get(channelId);
  if (
    known !== undefined &&
    (known.isDMBased() || known.guild.id !== guild.id || known.guildId !== guild.id)
  ) {
    return ELSEWHERE;
  }
  const channel = guild.channels.cache.get(channelId);
  if (channel === undefined) return null;
  return channel.guild.id === guild.id && channel.guildId === guild.id ? channel : ELSEWHERE;
}

/**
 * findGuildChannel, then Discord when the cache has nothing: the gateway announces only active threads, so
 * an archived thread a task posts into is unknown after a restart until fetched (posting reopens it). A
 * deleted channel, or one the bot cannot see, is still null.
 */
export async function lookUpTaskChannel(
  client: Client,
  guild: Guild,
  channelId: string,
): Promise<GuildBasedChannel | null | typeof ELSEWHERE> {
  const cached = findGuildChannel(client, guild, channelId);
  if (cached !== null) return cached;
  try {
    await client.channels.fetch(channelId);
  } catch (error) {
    const unseen = [RESTJSONErrorCodes.UnknownChannel, RESTJSONErrorCodes.MissingAccess] as const;
    if (error instanceof DiscordAPIError && unseen.some((code) => code === error.code)) return null;
    throw error;
  }
  return findGuildChannel(client, guild, channelId);
}

/** Why a run whose stored channel is in another server does not run, for `/task info`. */
function channelElsewhere(channelId: string): string {
  return `the task's channel (${channelId}) belongs to another server, so it will not run; delete the task and create it again with a channel of this server`;
}

/** The handler's per-bot state, or an error that says its createState failed. */
function handlerState(registry: HandlerRegistry, kind: string): unknown {
  try {
    return registry.stateOf(kind);
  } catch (error) {
    throw new Error(
      `the "${kind}" handler could not make its state: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** The handler's parsed options, or an error that says what is wrong with the stored ones. */
function parseOptions(handler: Handler, options: unknown): unknown {
  const parsed = handler.options.safeParse(options);
  if (!parsed.success) {
    throw new Error(
      `the task's options are not valid for "${handler.kind}": ${describeZodError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/** "field: problem; other: problem", for a log line or `/task info`. */
function describeZodError(error: ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/** The task as a handler sees it (its run, its status line). */
export function taskView(task: Readonly<Task>, options: unknown): HandlerTask<unknown> {
  return Object.freeze({
    id: task.id,
    guildId: task.guildId,
    name: task.name,
    kind: task.kind,
    channelId: task.channelId,
    options,
    currentLoop: task.currentLoop,
    count: task.count,
    timeZone: 'timeZone' in task.schedule ? task.schedule.timeZone : null,
  });
}

/** Key/value state of one task in the handler_state table (deleted with the task). */
export function createHandlerStore(db: Db, taskId: number): HandlerStore {
  return {
    get: <T>(key: string) => getHandlerState(db, taskId, key) as T | undefined,
    set: (key, value) => setHandlerState(db, taskId, key, value),
    delete: (key) => deleteHandlerState(db, taskId, key),
  };
}

/**
 * The nonce of the n-th post of a run: the run's own for the first, then with a suffix, so a handler that
 * posts twice in one run is not deduplicated into one message. Undefined when it would be too long.
 */
function sendNonce(runNonce: string, index: number): string | undefined {
  const nonce = index === 0 ? runNonce : `${runNonce}~${index.toString(36)}`;
  return nonce.length <= MAX_NONCE_LENGTH ? nonce : undefined;
}

async function sendToTaskChannel(
  client: Client,
  guild: Guild,
  channelId: string,
  message: string | MessageCreateOptions,
  nonce: string | undefined,
): Promise<Message> {
  // Looked up again at each send: the cache may have changed since the run began.
  const channel = findGuildChannel(client, guild, channelId);
  if (channel === ELSEWHERE) throw new Error(channelElsewhere(channelId));
  if (!channel) throw new Error(`the channel ${channelId} no longer exists or the bot cannot see it`);
  if (!channel.isSendable())
    throw new Error(`the channel ${channelId} (#${channel.name}) cannot take messages`);
  const body = typeof message === 'string' ? { content: message } : message;
  try {
    return await channel.send({
      allowedMentions: { parse: [] },
      ...body,
      ...(nonce !== undefined ? { nonce, enforceNonce: true } : {}),
    });
  } catch (error) {
    // Say where: "Missing Permissions" alone does not tell an admin which channel to fix. The cause keeps
    // the original, so transient failures are still recognised and retried.
    if (error instanceof DiscordAPIError && error.status < 500) {
      throw new Error(`Discord refused the post in #${channel.name} (${channelId}): ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

export interface SetupDeps {
  client: Client;
  db: Db;
  /** The bot's runtime, as handlers see it. */
  tasks: RunningTasks;
  log: Logger;
  /** How long one handler's setup may take; default HANDLER_SETUP_TIMEOUT_MS (tests shorten it). */
  setupTimeoutMs?: number;
}

/** A setup that never settles must not hold start-up (and the database lock) forever, as a stuck import can't. */
export const HANDLER_SETUP_TIMEOUT_MS = 10_000;

/**
 * Makes every handler's per-bot state and calls its `setup` once (at start-up, before tasks resume), and
 * returns one clean-up for all. A setup that throws, or does not finish within its bound, is logged and
 * skipped: its handler still runs, without what setup would have added (a late setup's clean-up runs as soon
 * as it arrives). A createState that throws is logged, and its handler's runs fail saying so.
 */
export async function setupHandlers(
  registry: HandlerRegistry,
  { client, db, tasks, log, setupTimeoutMs = HANDLER_SETUP_TIMEOUT_MS }: SetupDeps,
): Promise<() => void> {
  const cleanups: { kind: string; cleanup: () => void }[] = [];
  for (const handler of registry.all()) {
    const kind = handler.kind;
    let state: unknown;
    try {
      state = registry.stateOf(kind);
    } catch (error) {
      log.error({ kind, err: error }, 'handler createState failed; its tasks fail until the bot restarts');
      continue;
    }
    if (!handler.setup) continue;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), setupTimeoutMs);
    });
    try {
      const setup = Promise.resolve(handler.setup({ client, db, log: log.child({ kind }), state, tasks }));
      const outcome = await Promise.race([setup, late]);
      if (outcome === 'late') {
        log.error(
          { kind, timeoutMs: setupTimeoutMs },
          `handler setup did not finish within ${setupTimeoutMs / 1000} s; its handler runs without it`,
        );
        setup.then(
          (cleanup) => runCleanup(kind, cleanup, log),
          () => {},
        );
      } else if (typeof outcome === 'function') {
        cleanups.push({ kind, cleanup: outcome });
      }
    } catch (error) {
      log.error({ kind, err: error }, 'handler setup failed; its handler runs without it');
    } finally {
      clearTimeout(timer);
    }
  }
  return () => {
    for (const { kind, cleanup } of cleanups.splice(0).reverse()) runCleanup(kind, cleanup, log);
  };
}

function runCleanup(kind: string, cleanup: unknown, log: Logger): void {
  if (typeof cleanup !== 'function') return;
  try {
    cleanup();
  } catch (error) {
    log.error({ kind, err: error }, 'handler clean-up failed');
  }
}
