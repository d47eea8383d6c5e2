// `npm start`: read the configuration (from .env if there is one), start the watchdog and the bot, stop them
// gracefully on SIGINT/SIGTERM. A configuration problem is printed as its own lines, never a stack trace.
import { type Bot, StartupError, startBot } from './bot.js';
import { type Config, ConfigError, loadConfig, loadDotEnv } from './config.js';
import { prepareScheduleText } from './discord/schedule-input.js';
import { prepareTimeZones } from './discord/time-zones.js';
import { createLogger } from './log.js';
import { startWatchdog } from './watchdog/index.js';

function readConfig(): Config {
  try {
    loadDotEnv();
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

const config = readConfig();
const log = createLogger({ level: config.logLevel, token: config.discordToken });

// A promise some library or handler forgot to handle must not take down every task of every server: log
// it and go on. An exception thrown synchronously out of an event may have left things half-done: stop.
process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection'));
process.on('uncaughtException', (error) => {
  log.fatal({ err: error }, 'uncaught exception; exiting');
  process.exit(1);
});

// Before anything that could block: a module imported at start-up can spin as well as a handler can.
const watchdog = startWatchdog({
  databasePath: config.databasePath,
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
  void (bot?.stop() ?? Promise.resolve()).finally(() => process.exit(1));
};

// Listening from the start: the watchdog's signal watcher replaces the default "terminate" action, so an
// early SIGTERM must find a handler (it stops whatever has started so far).
const shutdown = (signal: NodeJS.Signals): void => {
  if (stopping) {
    log.warn({ signal }, 'second signal: exiting without waiting');
    process.exit(1);
  }
  stopping = true;
  log.info({ signal }, 'shutting down: letting running iterations finish');
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
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);

// Index every zone's abbreviations and offsets (~0.5 s of CPU) and warm chrono-node now, not on an admin's
// first keystroke in the timezone, at, every or cron autocomplete.
prepareTimeZones();
prepareScheduleText();

try {
  bot = await startBot({
    config,
    log,
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
  } else {
    log.fatal({ err: error }, 'Metronome could not start');
  }
  process.exit(1);
}
