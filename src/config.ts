// Configuration from the environment, validated once at start-up. A bad value stops the bot with one line
// that names the variable, never a stack trace.
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const snowflake = /^\d{17,20}$/;

/** Treat `VAR=` (present but empty, as in a copied .env.example) the same as unset. */
const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

/** A number of seconds, `0` allowed, decimals allowed; unset (or empty) gives `fallback`. */
const seconds = (fallback: number) =>
  optionalText
    .refine(
      (value) => value === undefined || (/^\d+(\.\d+)?$/.test(value) && Number.isFinite(Number(value))),
      {
        message: 'must be a number of seconds, such as 30 or 2.5',
      },
    )
    .transform((value) => (value === undefined ? fallback : Number(value)));

/** Whoever can reach the listener reads task kinds, error rates and gateway state: loopback unless told. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';
const hostname = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export const DEFAULT_WATCHDOG_WARN_SECONDS = 5;
/**
 * One shard per process, as discord.js's ShardingManager does by default: a crash, a stall the watchdog ends
 * or a respawn then touches one shard's servers, and a process's memory stays one shard's worth.
 */
export const DEFAULT_SHARDS_PER_PROCESS = 1;

/** A whole number from 1 up, written plainly (no sign, no exponent). */
const wholeNumber = /^[1-9]\d{0,5}$/;
export const DEFAULT_WATCHDOG_LIMIT_SECONDS = 30;

const envSchema = z.object({
  DISCORD_TOKEN: optionalText.refine((value) => value !== undefined, {
    message: 'is required: put your bot token in .env (see .env.example)',
  }),
  DATABASE_PATH: optionalText,
  HANDLERS_DIR: optionalText,
  DEV_GUILD_ID: optionalText.refine((value) => value === undefined || snowflake.test(value), {
    message: 'must be a guild id (a number of 17 to 20 digits)',
  }),
  LOG_LEVEL: optionalText.refine(
    (value) => value === undefined || (LOG_LEVELS as readonly string[]).includes(value),
    { message: `must be one of ${LOG_LEVELS.join(', ')}` },
  ),
  DISCORD_API_BASE: optionalText.refine((value) => value === undefined || URL.canParse(value), {
    message: 'must be a URL such as http://127.0.0.1:3000/api',
  }),
  WATCHDOG_WARN_SECONDS: seconds(DEFAULT_WATCHDOG_WARN_SECONDS).refine((value) => value > 0, {
    message: 'must be more than 0 seconds',
  }),
  WATCHDOG_LIMIT_SECONDS: seconds(DEFAULT_WATCHDOG_LIMIT_SECONDS),
  METRICS_PORT: optionalText
    .refine(
      (value) =>
        value === undefined || (/^\d{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65535),
      {
        message:
          'must be a port number from 1 to 65535, such as 9464 (leave it empty for no metrics listener)',
      },
    )
    .transform((value) => (value === undefined ? undefined : Number(value))),
  SHARD_COUNT: optionalText
    .refine((value) => value === undefined || value === 'auto' || wholeNumber.test(value), {
      message: 'must be auto (Discord recommends the count) or a whole number of shards, such as 4',
    })
    .transform((value): number | 'auto' =>
      value === undefined || value === 'auto' ? 'auto' : Number(value),
    ),
  SHARDS_PER_PROCESS: optionalText
    .refine((value) => value === undefined || wholeNumber.test(value), {
      message: 'must be a whole number of shards from 1, such as 1 (the default: one process per shard)',
    })
    .transform((value) => (value === undefined ? DEFAULT_SHARDS_PER_PROCESS : Number(value))),
  METRICS_HOST: optionalText.refine(
    (value) => value === undefined || isIP(value) !== 0 || hostname.test(value),
    {
      message: 'must be an IP address or a host name, such as 127.0.0.1 (the default) or 0.0.0.0',
    },
  ),
});

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  discordToken: string;
  databasePath: string;
  handlersDir: string | undefined;
  devGuildId: string | undefined;
  logLevel: LogLevel;
  /** Only for the emulator and tests: where discord.js sends REST calls (and so finds the gateway). */
  discordApiBase: string | undefined;
  /** An event-loop stall this long is logged with the runs in flight. */
  watchdogWarnMs: number;
  /** An event-loop stall this long ends the process (exit 1) and fails the task in flight; null: never. */
  watchdogLimitMs: number | null;
  /** Where /metrics and /healthz listen; undefined: no listener (METRICS_PORT unset). */
  metrics: { port: number; host: string } | undefined;
  /** How many gateway shards the bot runs: a number, or `auto` for Discord's recommendation (GET /gateway/bot). */
  shardCount: number | 'auto';
  /** How many shards one process runs when there are several (a process per group, through a manager). */
  shardsPerProcess: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const DEFAULT_DATABASE_PATH = './data/metronome.db';

/** Reads and validates the configuration; throws a ConfigError whose message is one line per bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${String(issue.path[0])} ${issue.message}`);
    throw new ConfigError(lines.join('\n'));
  }
  const vars = parsed.data;
  const limitMs = vars.WATCHDOG_LIMIT_SECONDS === 0 ? null : vars.WATCHDOG_LIMIT_SECONDS * 1000;
  const warnMs = vars.WATCHDOG_WARN_SECONDS * 1000;
  if (limitMs !== null && warnMs >= limitMs) {
    throw new ConfigError(
      `WATCHDOG_WARN_SECONDS must be less than WATCHDOG_LIMIT_SECONDS (${vars.WATCHDOG_LIMIT_SECONDS})`,
    );
  }
  if (vars.METRICS_HOST !== undefined && vars.METRICS_PORT === undefined) {
    throw new ConfigError(
      'METRICS_HOST is set but METRICS_PORT is not: set METRICS_PORT to turn the listener on',
    );
  }
  return {
    discordToken: vars.DISCORD_TOKEN as string,
    databasePath: resolve(cwd, vars.DATABASE_PATH ?? DEFAULT_DATABASE_PATH),
    handlersDir: vars.HANDLERS_DIR === undefined ? undefined : resolve(cwd, vars.HANDLERS_DIR),
    devGuildId: vars.DEV_GUILD_ID,
    logLevel: (vars.LOG_LEVEL as LogLevel | undefined) ?? 'info',
    discordApiBase: vars.DISCORD_API_BASE,
    watchdogWarnMs: warnMs,
    watchdogLimitMs: limitMs,
    metrics:
      vars.METRICS_PORT === undefined
        ? undefined
        : { port: vars.METRICS_PORT, host: vars.METRICS_HOST ?? DEFAULT_METRICS_HOST },
    shardCount: vars.SHARD_COUNT,
    shardsPerProcess: vars.SHARDS_PER_PROCESS,
  };
}

/**
 * Loads `.env` into process.env when there is one (`npm start`, `npm run backup`); variables already set in
 * the environment win. process.loadEnvFile exists from Node 20.12; on older Nodes `.env` is ignored.
 */
export function loadDotEnv(path = '.env'): void {
  const loadEnvFile = (process as { loadEnvFile?: (path: string) => void }).loadEnvFile;
  if (existsSync(path) && typeof loadEnvFile === 'function') loadEnvFile(path);
}
