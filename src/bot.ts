// startBot composes Metronome: lock and database → client → the assembly (handlers, runtime, commands; see
// assemble.ts) → Discord → resumed tasks. The entry point (src/main.ts), the sandbox and the end-to-end
// tests all start the bot through here.
import { resolve } from 'node:path';
import { type Client, Events, GatewayCloseCodes } from 'discord.js';
import { assemble } from './assemble.js';
import type { TaskCommand } from './commands/index.js';
import type { Config } from './config.js';
import { retryWhileBusy, STARTUP_BUSY_BUDGET_MS } from './db/busy.js';
import { type DatabaseConnection, describeDatabaseFileError, openDatabase } from './db/index.js';
import {
  acquireShardLocks,
  type DatabaseLock,
  DatabaseLockedError,
  ShardCountMismatchError,
} from './db/lock.js';
import { type CreateClientOptions, createClient } from './discord/client.js';
import { type SyncResult, syncCommands } from './discord/sync.js';
import type { HandlerRegistry } from './handlers/registry.js';
import type { Logger } from './log.js';
import { MetricsListenError } from './metrics/server.js';
import { type Monitoring, startMonitoring } from './monitoring.js';
import type { ResumeSummary, TaskRuntime } from './tasks/index.js';
import { describeScope, type ShardScope } from './tasks/shard-scope.js';
import { applyPendingQuarantine } from './watchdog/runs-in-flight.js';

export interface StartBotOptions {
  config: Pick<Config, 'discordToken' | 'databasePath' | 'handlersDir' | 'devGuildId' | 'discordApiBase'> &
    Partial<Pick<Config, 'metrics'>>;
  log: Logger;
  /** Extra client settings (the emulator's tests pass `testing` and short REST timeouts). */
  clientOptions?: Partial<Omit<CreateClientOptions, 'token' | 'apiBase'>>;
  /**
   * Called once if Discord closes the connection for good after start-up (token reset, intent revoked):
   * discord.js does not reconnect then, so the process should stop and say why. Default: log it.
   */
  onFatal?: (error: StartupError) => void;
  /** How long a command may take before its reply is deferred (default DEFAULT_DEFER_AFTER_MS); for tests. */
  deferAfterMs?: number;
  /**
   * The gateway shards this bot runs, of how many (default: shard 0 of 1, the whole bot). A process of
   * several runs only its shards' servers' tasks, and only the one holding shard 0 syncs the commands.
   */
  shards?: ShardScope;
}

/** A bot in one process. */
export const ONE_SHARD: ShardScope = { count: 1, ids: [0] };

/** Discord refused the bot in a way no retry fixes; the message says what the owner must change. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

export const TOKEN_REFUSED =
  'Discord refused the bot token (DISCORD_TOKEN): it is wrong or was reset. Copy the current one from the ' +
  'Developer Portal (your app → Bot → Reset Token) into .env.';

/** The sentence for a gateway close code discord.js will not recover from. */
export function unrecoverableCloseMessage(code: number): string {
  switch (code) {
    case GatewayCloseCodes.AuthenticationFailed:
      return TOKEN_REFUSED;
    case GatewayCloseCodes.ShardingRequired:
      return (
        'Discord requires more shards for the servers this bot is in (close code 4011). Set SHARD_COUNT=auto ' +
        '(or a larger number) in .env, then start Metronome again.'
      );
    case GatewayCloseCodes.DisallowedIntents:
      return (
        'Discord refused the Server Members intent. Enable it in the Developer Portal (your app → Bot → ' +
        'Privileged Gateway Intents → Server Members Intent), then start Metronome again.'
      );
    default:
      return `Discord closed the gateway connection for good (close code ${code}); Metronome cannot go on.`;
  }
}

export interface Bot {
  client: Client<true>;
  runtime: TaskRuntime;
  db: DatabaseConnection;
  registry: HandlerRegistry;
  /** /healthz's answer, and the listener's address when METRICS_PORT is set. */
  monitoring: Monitoring;
  /**
   * What start-up did: whether the commands were re-registered, how many tasks resumed, and which parts of
   * `/task` (`create <kind>`) were left out to fit Discord's limits, with why.
   */
  started: { commands: SyncResult; resumed: ResumeSummary; notOffered: TaskCommand['leftOut'] };
  /** Graceful: running iterations finish (within the runtime's grace period), then Discord, then the database. */
  stop(): Promise<void>;
}

export async function startBot({
  config,
  log,
  clientOptions,
  onFatal,
  deferAfterMs,
  shards = ONE_SHARD,
}: StartBotOptions): Promise<Bot> {
  const lock = lockShards(config.databasePath, shards);
  if (shards.count > 1) {
    log.info({ shards: shards.ids, shardCount: shards.count }, `running ${describeScope(shards)}`);
  }
  let db: DatabaseConnection;
  try {
    db = openDatabase(config.databasePath);
  } catch (error) {
    lock.release();
    throw asStartupError(error, config.databasePath);
  }
  try {
    const failed = applyPendingQuarantine(db.sqlite, config.databasePath, Date.now(), shards);
    if (failed.length > 0) {
      log.warn({ taskIds: failed }, 'failed the tasks whose runs blocked the bot before the last exit');
    }
  } catch (error) {
    db.close();
    lock.release();
    throw error;
  }
  // Run in reverse: the lock goes last, once nothing touches the database any more.
  const cleanups: (() => unknown)[] = [() => lock.release(), () => db.close()];
  const cleanUp = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log.error({ err: error }, 'error while shutting down');
      }
    }
  };
  try {
    const client = createClient({
      ...clientOptions,
      token: config.discordToken,
      apiBase: config.discordApiBase,
      shards,
    });
    cleanups.push(() => client.destroy());
    // Only with a listener: nobody could read them otherwise, and the runs would pay for them. Imported
    // here, so a bot without metrics does not load prom-client (~0.1 s of start-up).
    const metrics = config.metrics
      ? (await import('./metrics/metrics.js')).createMetrics({ shards })
      : undefined;
    const { registry, runtime, command, stop } = await assemble({
      client,
      db: db.db,
      handlerDirs: config.handlersDir ? [config.handlersDir] : [],
      log,
      deferAfterMs,
      metrics,
      shards,
    });
    cleanups.push(() => stop());
    // Before connecting: a taken METRICS_PORT stops the bot at once, and /healthz answers during start-up.
    const monitoring = await startMonitoring({
      client,
      runtime,
      kinds: registry.kinds,
      database: db,
      log,
      metrics,
      listen: config.metrics,
    }).catch((error: unknown) => {
      throw error instanceof MetricsListenError ? new StartupError(error.message, { cause: error }) : error;
    });
    cleanups.push(() => monitoring.stop());

    const readyClient = await connect(client);
    const onDisconnect = (event: { code: number }) => {
      const error = new StartupError(unrecoverableCloseMessage(event.code));
      log.fatal({ code: event.code }, error.message);
      onFatal?.(error);
    };
    // discord.js emits shardDisconnect only for closes it will not reconnect after.
    readyClient.on(Events.ShardDisconnect, onDisconnect);
    cleanups.push(() => readyClient.off(Events.ShardDisconnect, onDisconnect));
    log.info({ user: readyClient.user.tag, guilds: readyClient.guilds.cache.size }, 'connected to Discord');

    // One process syncs, the one holding shard 0 (its lock makes it one): the others would only repeat it.
    const commands: SyncResult = shards.ids.includes(0)
      ? await syncCommands({
          client: readyClient,
          db: db.db,
          commands: [command.json],
          guildId: config.devGuildId,
          log,
        })
      : 'by shard 0';
    // Another shard process may hold the write lock for a moment: resumeAll is safe to call again, and picks
    // up after the pages it already committed.
    const resumed = await retryWhileBusy(() => runtime.resumeAll(), { budgetMs: STARTUP_BUSY_BUDGET_MS });
    return {
      client: readyClient,
      runtime,
      db,
      registry,
      monitoring,
      started: { commands, resumed, notOffered: command.leftOut },
      stop: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/** One bot per shard of a database file, or two would run the shard's tasks; and one shard count. */
function lockShards(databasePath: string, shards: ShardScope): DatabaseLock {
  try {
    return acquireShardLocks(databasePath, shards);
  } catch (error) {
    if (error instanceof ShardCountMismatchError) {
      const running =
        error.running === undefined
          ? 'another shard count'
          : `SHARD_COUNT=${error.running.count} (pid ${error.running.pid})`;
      throw new StartupError(
        `Another Metronome runs ${error.databasePath} with ${running}, and this one has ${error.wanted} ` +
          "shards: they would split the servers differently and run some servers' tasks twice. Stop every " +
          'Metronome on this database to change the shard count.',
        { cause: error },
      );
    }
    if (!(error instanceof DatabaseLockedError)) throw asStartupError(error, databasePath);
    const owner = error.pid === undefined ? '' : ` (pid ${error.pid})`;
    if (error.shard !== undefined) {
      throw new StartupError(
        `Another Metronome is already running shard ${error.shard.id} of ${error.shard.count} on ` +
          `${error.databasePath}${owner}. Stop it first, or point DATABASE_PATH at another file.`,
        { cause: error },
      );
    }
    throw new StartupError(
      `Another Metronome is already running on ${error.databasePath}${owner}. Stop it first, ` +
        'or point DATABASE_PATH at another file.',
      { cause: error },
    );
  }
}

/** A problem with the database file (damaged, read-only, a folder...) as the one sentence its owner needs. */
function asStartupError(error: unknown, databasePath: string): unknown {
  const described = describeDatabaseFileError(error, resolve(databasePath));
  return described === undefined ? error : new StartupError(described.message, { cause: error });
}

/**
 * Logs in and waits for READY. discord.js neither rejects login() nor emits ready when the gateway closes
 * for good (bad token on the gateway, a privileged intent not enabled): it emits shardDisconnect and stays
 * silent, so without this the bot would wait forever.
 */
function connect(client: Client): Promise<Client<true>> {
  return new Promise<Client<true>>((resolve, reject) => {
    const onDisconnect = (event: { code: number }) => {
      client.off(Events.ClientReady, onReady);
      reject(new StartupError(unrecoverableCloseMessage(event.code)));
    };
    const onReady = (ready: Client<true>) => {
      client.off(Events.ShardDisconnect, onDisconnect);
      resolve(ready);
    };
    client.once(Events.ClientReady, onReady);
    client.once(Events.ShardDisconnect, onDisconnect);
    client.login().catch((error: unknown) => {
      client.off(Events.ClientReady, onReady);
      client.off(Events.ShardDisconnect, onDisconnect);
      const code = (error as { code?: unknown }).code;
      reject(code === 'TokenInvalid' ? new StartupError(TOKEN_REFUSED, { cause: error }) : error);
    });
  });
}
