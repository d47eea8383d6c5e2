// Structured logs with pino. The bot token must never reach a log line: every logger redacts the usual
// places it could hide, and `censorToken` scrubs free text (error messages) that might quote it.
import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

const TOKEN_PATTERN = /[\w-]{23,28}\.[\w-]{6,7}\.[\w-]{27,40}/g;

export function censorToken(text: string): string {
  return text.replace(TOKEN_PATTERN, '[token]');
}

export interface LoggerOptions {
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read the lines back. */
  destination?: NodeJS.WritableStream;
  /** The token itself, so it is scrubbed even where it does not look like a token (emulator tokens). */
  token?: string;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const secret = options.token;
  const scrub = (text: string): string => {
    const censored = censorToken(text);
    return secret ? censored.split(secret).join('[token]') : censored;
  };
  return pino(
    {
      level: options.level ?? 'info',
      base: undefined,
      redact: {
        paths: [
          'token',
          '*.token',
          'config.discordToken',
          'headers.authorization',
          '*.headers.authorization',
        ],
        censor: '[token]',
      },
      hooks: {
        // Scrub message strings and error text as they are written, whatever object they came in.
        streamWrite: (line) => scrub(line),
      },
    },
    (options.destination as NodeJS.WritableStream & { write(chunk: string): boolean }) ?? process.stdout,
  );
}
