// What every Metronome process shares, the manager included: reading the configuration, handling stray
// errors, and the words a manager and its children exchange. Kept apart from the bot so that the manager,
// which runs no bot, does not load it.
import { type Config, ConfigError, loadConfig, loadDotEnv } from '../config.js';
import type { Logger } from '../log.js';

/**
 * How a child tells its manager not to start it again: the problem is one only the owner can fix (another
 * process holds its shard, a refused token). EX_CONFIG of sysexits.h.
 */
export const EXIT_REFUSED = 78;

/** What the manager sends a child to stop it gracefully (a message, so a second one is not a second signal). */
export const STOP_MESSAGE = { metronome: 'stop' } as const;

export function isStopMessage(message: unknown): boolean {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { metronome?: unknown }).metronome === 'stop'
  );
}

/** The configuration from the environment (and .env); a problem ends the process with its lines on stderr. */
export function readConfigOrExit(): Config {
  try {
    loadDotEnv();
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

/** Log, do not die, for a forgotten promise; die for an exception thrown out of an event (state is unknown). */
export function handleProcessErrors(log: Logger): void {
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection'));
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, 'uncaught exception; exiting');
    process.exit(1);
  });
}
