// One bot process, as `npm start` runs it for a small bot and as each child of the shard manager runs it:
// the watchdog, the bot, and a graceful stop on SIGINT/SIGTERM (or on the manager's word, for a child). A
// configuration problem is printed as its own lines, never a stack trace.
import { type Bot, StartupError, startBot } from '../bot.js';
import type { Config } from '../config.js';
import { prepareScheduleText } from '../discord/schedule-input.js';
import { prepareTimeZones } from '../discord/time-zones.js';
import type { Logger } from '../log.js';
import type { ShardScope } from '../tasks/shard-scope.js';
import { startWatchdog } from '../watchdog/index.js';
import { EXIT_REFUSED, handleProcessErrors, isStopMessage } from './lifecycle.js';

export interface BotProcessOptions {
  config: Config;
  log: Logger;
  /** The shards this process runs. */
  shards: ShardScope;
  /** Started by the shard manager: stops on its message or when it is gone, and says when not to restart. */
  managed: boolean;
}

/**
 * METRICS_PORT belongs to the process whose first shard is 0; the process whose first shard is N listens on
 * METRICS_PORT + N, so every process of one machine has its own port.
 */
export function metricsListenerOf(metrics: Config['metrics'], shards: ShardScope): Config['metrics'] {
  return metrics === undefined ? undefined : { ...metrics, port: metrics.port + Math.min(...shards.ids) };
}

export async function runBotProcess({ config, log, shards, managed }: BotProcessOptions): Promise<void> {
  handleProcessErrors(log);
  const refusedCode = managed ? EXIT_REFUSED : 1;

  // Before anything that could block: a module imported at start-up can spin as well as a handler can.
  const watchdog = startWatchdog({
    databasePath: config.databasePath,
    shards,
    warnAfterMs: config.watchdogWarnMs,
    limitMs: config.watchdogLimitMs,
    log,
    logLevel: config.logLevel,
    token: config.discordToken,
    handleSignals: true,
  });

  let bot: Bot | undefined;
  let stopping = false;
  let fatalBeforeStarted = false;
  /** Discord closed the connection for good (token reset, intent revoked): stop so a supervisor notices. */
  const stopOnFatal = (): void => {
    if (stopping) return;
    stopping = true;
    void (bot?.stop() ?? Promise.resolve()).finally(() => process.exit(refusedCode));
  };

  // Listening from the start: the watchdog's signal watcher replaces the default "terminate" action, so an
  // early SIGTERM must find a handler (it stops whatever has started so far).
  const shutdown = (reason: { signal: NodeJS.Signals } | { manager: 'stop' | 'gone' }): void => {
    if (stopping) {
      // The manager's word repeats a stop already under way (Ctrl-C reaches every process of a terminal).
      if (!('signal' in reason)) return;
      log.warn(reason, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    log.info(reason, 'shutting down: letting running iterations finish');
    (bot?.stop() ?? Promise.resolve())
      .then(() => watchdog.stop())
      .then(
        () => {
          log.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'error while stopping');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', (signal) => shutdown({ signal }));
  process.on('SIGTERM', (signal) => shutdown({ signal }));
  if (managed) {
    process.on('message', (message) => {
      if (isStopMessage(message)) shutdown({ manager: 'stop' });
    });
    // The manager died (even SIGKILL closes the channel): nobody would restart or stop this process.
    process.on('disconnect', () => shutdown({ manager: 'gone' }));
  }

  // Index every zone's abbreviations and offsets (~0.5 s of CPU) and warm chrono-node now, not on an admin's
  // first keystroke in the timezone, at, every or cron autocomplete.
  prepareTimeZones();
  prepareScheduleText();

  try {
    bot = await startBot({
      config: { ...config, metrics: metricsListenerOf(config.metrics, shards) },
      log,
      shards,
      onFatal: (error) => {
        process.stderr.write(`${error.message}\n`);
        // During start-up (command sync, resuming tasks) the bot object does not exist yet.
        if (bot === undefined) fatalBeforeStarted = true;
        else stopOnFatal();
      },
    });
    watchdog.started();
    // Only sharpens which task a fatal stall fails; without it, every run in flight is failed.
    watchdog.handlerFiles(bot.registry.files);
    if (fatalBeforeStarted) stopOnFatal();
  } catch (error) {
    if (error instanceof StartupError) {
      // Something only the owner can fix: say it in one plain line, as for configuration errors.
      log.fatal(error.message);
      process.stderr.write(`${error.message}\n`);
      process.exit(refusedCode);
    }
    log.fatal({ err: error }, 'Metronome could not start');
    process.exit(1);
  }
}
