// More than one shard process: this process becomes their manager, through discord.js's ShardingManager,
// which forks each child (and forks it again when it dies) and carries their IPC. Whether to start a dead
// child again is decided here: not one that exited refused (EXIT_REFUSED), which would only be refused again. discord.js gives each child one shard
// id; Metronome's children run a group of SHARDS_PER_PROCESS shards, so the manager's "shards" are the
// groups (its shard i is process i), and each child is told its real shard ids in SHARDS and SHARD_COUNT, the
// variables discord.js's Client reads.
import type { ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Shard, ShardingManager } from 'discord.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { ExponentialBackoff } from '../loop/backoff.js';
import { describeScope } from '../tasks/shard-scope.js';
import { EXIT_REFUSED, handleProcessErrors, STOP_MESSAGE } from './lifecycle.js';
import type { ShardPlan } from './plan.js';
import { scopeEnvironment } from './scope-env.js';

/** discord.js's pause between two processes' starts when they share an identify bucket. */
const IDENTIFY_SPACING_MS = 5_500;
/** How long a child gets to stop gracefully (the runtime's grace period, then Discord and the database). */
const STOP_WAIT_MS = 30_000;
/**
 * A child that dies within this long of starting is in a crash loop: it is started again after a growing
 * pause (1 s doubling to a minute), so it does not spend Discord's daily session starts (1,000) in minutes.
 */
export const STABLE_AFTER_MS = 60_000;
export const RESTART_BASE_MS = 1_000;
export const RESTART_CAP_MS = 60_000;

export interface ManagerOptions {
  config: Pick<Config, 'discordToken'>;
  log: Logger;
  plan: ShardPlan;
  /** The child entry; default src/shard/child in this file's language (.js compiled, .ts under tsx). */
  file?: string;
}

/** The child entry beside this file: .js once compiled, .ts in development (children inherit tsx's flags). */
function childEntry(): string {
  const extension = extname(fileURLToPath(import.meta.url));
  return fileURLToPath(new URL(`./child${extension}`, import.meta.url));
}

/**
 * Starts one process per group of the plan, one after another (each once its gateway is ready, as
 * discord.js's manager does), and keeps them running until SIGINT/SIGTERM, which stops them all gracefully.
 * Never returns: the process exits once its children have.
 */
export async function runManager({ config, log, plan, file = childEntry() }: ManagerOptions): Promise<void> {
  handleProcessErrors(log);
  const manager = new ShardingManager(file, {
    totalShards: plan.groups.length,
    token: config.discordToken,
    mode: 'process',
    // discord.js decides before its death event is heard; watchShard starts a dead child again instead.
    respawn: false,
    // Under tsx (development) its loader flags, and --conditions=development, reach the children too.
    execArgv: process.execArgv,
  });
  let stopping = false;

  const stopAll = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await Promise.all([...manager.shards.values()].map(stopShard));
    log.info('stopped');
    process.exit(code);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // The children stop on their own when the manager's channel closes.
      log.warn({ signal }, 'second signal: exiting without waiting for the shard processes');
      process.exit(1);
    }
    log.info({ signal }, 'shutting down: stopping every shard process');
    void stopAll(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  log.info(
    { shardCount: plan.count, processes: plan.groups.length },
    `running ${plan.count} shards in ${plan.groups.length} processes`,
  );
  // Processes that share an identify bucket (shard id % max_concurrency) must start apart.
  const spacing = plan.count <= plan.maxConcurrency ? 0 : IDENTIFY_SPACING_MS;
  for (const [index, ids] of plan.groups.entries()) {
    if (stopping) return;
    const scope = { count: plan.count, ids };
    const shard = manager.createShard(index);
    Object.assign(shard.env as NodeJS.ProcessEnv, scopeEnvironment(scope));
    watchShard(shard, describeScope(scope));
    const ready = new Promise<void>((resolve) => shard.once('ready', () => resolve()));
    await shard.spawn(-1);
    await ready;
    if (spacing > 0 && index < plan.groups.length - 1) {
      await new Promise((resolve) => setTimeout(resolve, spacing));
    }
  }
  log.info({ processes: plan.groups.length }, 'every shard process is ready');

  function watchShard(shard: Shard, shards: string): void {
    const shardLog = log.child({ process: shard.id });
    let readyBefore = false;
    let startedAtMs = Date.now();
    const restarts = new ExponentialBackoff(RESTART_BASE_MS, RESTART_CAP_MS);
    shard.on('spawn', (child) => {
      startedAtMs = Date.now();
      shardLog.info({ pid: (child as ChildProcess).pid }, `started the process of ${shards}`);
    });
    shard.on('ready', () => {
      shardLog.info(`the process of ${shards} is ${readyBefore ? 'connected again' : 'connected'}`);
      readyBefore = true;
    });
    shard.on('death', (child) => {
      const { exitCode, signalCode, pid } = child as ChildProcess;
      const how = signalCode === null ? `exit code ${exitCode}` : `killed by ${signalCode}`;
      if (stopping) {
        shardLog.info({ pid, exitCode, signal: signalCode }, `the process of ${shards} stopped (${how})`);
      } else if (exitCode === EXIT_REFUSED) {
        // It said why on stderr; starting it again would repeat the refusal forever.
        shardLog.fatal(
          { pid, exitCode },
          `the process of ${shards} cannot run; stopping every shard process`,
        );
        void stopAll(1);
      } else {
        const livedMs = Date.now() - startedAtMs;
        const delayMs = restartDelayMs(livedMs, restarts);
        shardLog.warn(
          { pid, exitCode, signal: signalCode, livedMs, restartInMs: delayMs },
          `the process of ${shards} died (${how}); starting it again${
            delayMs > 0
              ? ` in ${(delayMs / 1_000).toFixed(1)} s (it had run ${Math.round(livedMs / 1_000)} s)`
              : ''
          }`,
        );
        // At least once discord.js has let go of the dead process (it does so right after this event).
        setTimeout(() => {
          if (stopping) return;
          shard
            .spawn(-1)
            .catch((error: unknown) => shardLog.error({ err: error }, `could not start ${shards}`));
        }, delayMs);
      }
    });
    shard.on('error', (error) => shardLog.error({ err: error }, `the process of ${shards} failed`));
  }
}

/**
 * How long to wait before starting again a child that ran `livedMs`: at once after a stable run (which
 * starts the pauses over), after a growing pause when it keeps dying soon after starting.
 */
export function restartDelayMs(livedMs: number, restarts: ExponentialBackoff): number {
  if (livedMs >= STABLE_AFTER_MS) {
    restarts.reset();
    return 0;
  }
  return Math.round(restarts.nextDelayMs());
}

/** Asks a child to stop and waits until it has; past STOP_WAIT_MS it is killed. */
function stopShard(shard: Shard): Promise<void> {
  const child = shard.process;
  if (child === null || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_WAIT_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    // A child whose channel is gone cannot hear the message: a signal says the same.
    child.send(STOP_MESSAGE, (error) => {
      if (error) child.kill('SIGTERM');
    });
  });
}
