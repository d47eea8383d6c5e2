// The one wiring of Metronome's parts on a client and a database: handlers → executor → runtime → handler
// setup → the /task command → the interaction router. startBot and the end-to-end test helpers both build
// the bot through here, so the tests run the order production runs.
import type { Client } from 'discord.js';
import { loadTaskCommand, TASK_COMMAND_NAME, type TaskCommand } from './commands/index.js';
import type { Db } from './db/index.js';
import { routeInteractions } from './discord/router.js';
import type { Handler, RunningTasks } from './handlers/define.js';
import { createExecutor, setupHandlers } from './handlers/executor.js';
import { type HandlerRegistry, loadHandlers } from './handlers/registry.js';
import type { Logger } from './log.js';
import type { BotMetrics } from './metrics/metrics.js';
import { TaskRuntime } from './tasks/index.js';
import type { ShardScope } from './tasks/shard-scope.js';

export interface AssembleOptions {
  /** Created but not necessarily logged in: handler setups add their gateway listeners before READY. */
  client: Client;
  db: Db;
  /** Folders of custom handler modules, loaded after the built-ins. */
  handlerDirs: readonly string[];
  /** Handler objects added after the folders' modules: metronome/testing passes the handlers under test. */
  handlers?: readonly Handler[];
  log: Logger;
  /** How long a command may take before its reply is deferred (default: the router's); for tests. */
  deferAfterMs?: number;
  /** Where the router counts commands (the runtime's metrics are attached by startMonitoring). */
  metrics?: BotMetrics;
  /** The gateway shards this process runs, when the bot's shards are spread over processes (see TaskRuntime). */
  shards?: ShardScope;
}

export interface Assembly {
  registry: HandlerRegistry;
  runtime: TaskRuntime;
  /** The `/task` command built for these handlers, with the parts left out to fit Discord's limits. */
  command: TaskCommand;
  /**
   * Undoes the wiring in reverse: no more commands, handler setups undone, then the runtime stops, letting
   * running iterations finish within `graceMs` (default: the runtime's grace period).
   */
  stop(graceMs?: number): Promise<void>;
}

export async function assemble({
  client,
  db,
  handlerDirs,
  handlers = [],
  log,
  deferAfterMs,
  metrics,
  shards,
}: AssembleOptions): Promise<Assembly> {
  const registry = await loadHandlers({ dirs: [...handlerDirs], log });
  for (const handler of handlers) {
    // Passed in code, not found in a folder: a refusal is the caller's mistake, so it throws.
    const refused = registry.add(handler);
    if (refused !== undefined)
      throw new Error(`the handler "${String(handler.kind)}" was refused: ${refused}`);
  }
  // Handlers learn whether their tasks run from this runtime (built next: it needs the executor).
  const tasks: RunningTasks = { isRunning: (taskId) => runtime.isRunning(taskId) };
  const runtime = new TaskRuntime({
    db,
    execute: createExecutor({ client, db, registry, tasks, log }),
    log,
    shards,
  });
  const undo: ((graceMs?: number) => unknown)[] = [(graceMs) => runtime.shutdown(graceMs)];
  const stop = async (graceMs?: number) => {
    for (const step of undo.splice(0).reverse()) {
      try {
        await step(graceMs);
      } catch (error) {
        log.error({ err: error }, 'error while shutting down');
      }
    }
  };
  try {
    undo.push(await setupHandlers(registry, { client, db, tasks, log }));
    const command = await loadTaskCommand(registry);
    for (const { path, reason } of command.leftOut) {
      log.warn({ subcommand: path, reason }, `/task ${path} is not offered: ${reason}`);
    }
    undo.push(
      routeInteractions(client, {
        commandName: TASK_COMMAND_NAME,
        subcommands: command.subcommands,
        ctx: { runtime, registry, db, client, log },
        deferAfterMs,
        metrics,
      }),
    );
    return { registry, runtime, command, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
