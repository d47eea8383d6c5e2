// startBot composes Metronome: database → handlers → client → runtime → commands → resumed tasks. The
// entry point (src/main.ts), the sandbox and the end-to-end tests all start the bot through here.
import { type Client, Events } from 'discord.js';
import { loadTaskCommand, TASK_COMMAND_NAME } from '../commands/index.js';
import type { Config } from './config.js';
import { type DatabaseConnection, openDatabase } from './db/index.js';
import { type CreateClientOptions, createClient } from './discord/client.js';
import { routeInteractions } from './discord/router.js';
import { type SyncResult, syncCommands } from './discord/sync.js';
import { createExecutor, setupHandlers } from './handlers/executor.js';
import { type HandlerRegistry, loadHandlers } from './handlers/registry.js';
import type { Logger } from './log.js';
import { type ResumeSummary, TaskRuntime } from './tasks/index.js';

export interface StartBotOptions {
  config: Pick<Config, 'discordToken' | 'databasePath' | 'handlersDir' | 'devGuildId' | 'discordApiBase'>;
  log: Logger;
  /** Extra client settings (the emulator's tests pass `testing` and short REST timeouts). */
  clientOptions?: Partial<Omit<CreateClientOptions, 'token' | 'apiBase'>>;
}

export interface Bot {
  client: Client<true>;
  runtime: TaskRuntime;
  db: DatabaseConnection;
  registry: HandlerRegistry;
  /** What start-up did: whether the commands were re-registered, and how many tasks resumed. */
  started: { commands: SyncResult; resumed: ResumeSummary };
  /** Graceful: running iterations finish (within the runtime's grace period), then Discord, then the database. */
  stop(): Promise<void>;
}

export async function startBot({ config, log, clientOptions }: StartBotOptions): Promise<Bot> {
  const db = openDatabase(config.databasePath);
  const cleanups: (() => unknown)[] = [() => db.close()];
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
    const registry = await loadHandlers({ dirs: config.handlersDir ? [config.handlersDir] : [], log });
    const client = createClient({
      ...clientOptions,
      token: config.discordToken,
      apiBase: config.discordApiBase,
    });
    cleanups.push(() => client.destroy());
    const runtime = new TaskRuntime({
      db: db.db,
      execute: createExecutor({ client, db: db.db, registry, log }),
      log,
    });
    cleanups.push(() => runtime.shutdown());
    cleanups.push(await setupHandlers(registry, { client, db: db.db, log }));

    const command = await loadTaskCommand(registry);
    cleanups.push(
      routeInteractions(client, {
        commandName: TASK_COMMAND_NAME,
        subcommands: command.subcommands,
        ctx: { runtime, registry, db: db.db, client, log },
      }),
    );

    const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
    await client.login();
    const readyClient = await ready;
    log.info({ user: readyClient.user.tag, guilds: readyClient.guilds.cache.size }, 'connected to Discord');

    const commands = await syncCommands({
      client: readyClient,
      db: db.db,
      commands: [command.json],
      guildId: config.devGuildId,
      log,
    });
    const resumed = runtime.resumeAll();
    return {
      client: readyClient,
      runtime,
      db,
      registry,
      started: { commands, resumed },
      stop: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}
