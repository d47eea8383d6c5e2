import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Client } from 'discord.js';
import { expect, vi } from 'vitest';
import { type Emulator, type EmulatorOptions, type GuildSpec, startEmulator } from '../../emulator/index.js';
import { assemble } from '../../src/assemble.js';
import { type DatabaseConnection, openDatabase } from '../../src/db/index.js';
import { type CreateClientOptions, createClient } from '../../src/discord/client.js';
import type { HandlerRegistry } from '../../src/handlers/registry.js';
import { createLogger, type Logger } from '../../src/log.js';
import type { TaskDefinition, TaskRuntime } from '../../src/tasks/index.js';

export const MINUTE = 60_000;

/** Captured pino lines, parsed. */
export interface LogCapture {
  log: Logger;
  lines: Record<string, unknown>[];
}

export function captureLog(): LogCapture {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line));
  });
  return { log: createLogger({ level: 'debug', destination: stream }), lines };
}

export interface Bot {
  emulator: Emulator;
  client: Client;
  guild: ReturnType<Emulator['world']['createGuild']>;
  connection: DatabaseConnection;
  registry: HandlerRegistry;
  runtime: TaskRuntime;
  logs: LogCapture;
  /** Creates a running task in the guild, posting to `channel` (a channel name of the guild spec). */
  create(
    def: Partial<TaskDefinition> & Pick<TaskDefinition, 'name' | 'kind'>,
    channel?: string,
  ): ReturnType<TaskRuntime['create']>;
  /**
   * A restart on the same client and database, as after a crash: the assembly stops (runs in flight are
   * abandoned), `whileDown` may change what was stored, then a new assembly resumes the stored tasks.
   */
  restart(whileDown?: () => void): Promise<void>;
  /** Stops the bot as at shutdown (handler clean-ups, the runtime), leaving the client and the clock alone. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

export interface BotOptions {
  guild?: Partial<GuildSpec>;
  emulator?: EmulatorOptions;
  handlerDirs?: string[];
  /** Start fake timers (setTimeout, clearTimeout, Date) once the client is ready. Default true. */
  fakeTime?: boolean;
  now?: number;
  /** The client's gateway intents; default the bot's own (createClient's DEFAULT_INTENTS). */
  intents?: CreateClientOptions['intents'];
}

/** Fakes the clock the tests advance (the loop engine also measures waits on `performance`). */
function fakeTimers(now: number): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'], now });
}

/**
 * A logged-in client against the emulator, a fresh SQLite file, and the bot's assembly on them (the handlers:
 * built-ins + `handlerDirs`, their setup, the TaskRuntime, the /task router), wired as startBot wires them,
 * without the lock, the command sync or resumed tasks.
 */
export async function startBot(options: BotOptions = {}): Promise<Bot> {
  const connected = await connectBot(options);
  if (options.fakeTime ?? true) fakeTimers(options.now ?? Date.now());
  return assembleBot(connected, options);
}

/**
 * Several bots in one process, as shards or the sandbox run them: each with its own emulator, client and
 * database, all loading the same handler modules, on one fake clock.
 */
export async function startBots(count: number, options: BotOptions = {}): Promise<Bot[]> {
  const connected: Connected[] = [];
  for (let n = 0; n < count; n++) connected.push(await connectBot(options));
  fakeTimers(options.now ?? Date.now());
  const bots: Bot[] = [];
  for (const one of connected) bots.push(await assembleBot(one, options));
  return bots;
}

interface Connected {
  emulator: Emulator;
  guild: Bot['guild'];
  client: Client;
}

async function connectBot(options: BotOptions): Promise<Connected> {
  const emulator = await startEmulator(options.emulator);
  const guild = emulator.world.createGuild({
    name: 'Test Guild',
    roles: [
      { name: 'Mods', mentionable: true },
      { name: 'Quiet', mentionable: true },
    ],
    channels: [{ name: 'general' }, { name: 'stats' }, { name: 'Lounge', type: 'voice' }],
    members: [
      { user: { username: 'alice' }, roles: ['Mods'] },
      { user: { username: 'bob' } },
      { user: { username: 'helper-bot', bot: true } },
    ],
    ...options.guild,
  });
  const client = createClient({
    token: emulator.token,
    apiBase: emulator.apiBase,
    restTimeoutMs: 2_000,
    restRetries: 1,
    testing: true,
    ...(options.intents !== undefined ? { intents: options.intents } : {}),
  });
  // Logged in on real timers, assembled on the fake clock: the handshake needs real time, and the handlers'
  // setup timers (the leaderboard's daily prune) must be armed on the clock the tests advance.
  const ready = new Promise<void>((resolve) => client.once('clientReady', () => resolve()));
  await client.login();
  await ready;
  return { emulator, guild, client };
}

async function assembleBot({ emulator, guild, client }: Connected, options: BotOptions): Promise<Bot> {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-handlers-'));
  const connection = openDatabase(join(dir, 'test.db'));
  const logs = captureLog();
  const assembleOnce = () =>
    assemble({ client, db: connection.db, handlerDirs: options.handlerDirs ?? [], log: logs.log });
  let assembly = await assembleOnce();
  return {
    emulator,
    client,
    guild,
    connection,
    get registry() {
      return assembly.registry;
    },
    get runtime() {
      return assembly.runtime;
    },
    logs,
    create(def, channel = 'general') {
      return assembly.runtime.create(guild.id, {
        schedule: { kind: 'interval', seconds: 60 },
        channelId: guild.channels[channel]!,
        createdBy: guild.ownerId,
        ...def,
      });
    },
    async restart(whileDown = () => {}) {
      await assembly.stop(0);
      whileDown();
      assembly = await assembleOnce();
      assembly.runtime.resumeAll();
    },
    async stop() {
      await assembly.stop(0);
    },
    async close() {
      await assembly.stop(0);
      vi.useRealTimers();
      await client.destroy();
      await emulator.close();
      connection.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Lets the loop fire what is due `ms` from now, then gives real I/O (REST, gateway) a moment to finish. */
export async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

/**
 * Waits until the task has recorded `n` runs: the bot has finished them, saves included. Wait for this, not
 * for what the emulator shows, before advancing the clock or reading the bot's state: Discord applies a
 * post or rename before the bot hears back, and a fake-clock jump meanwhile fires the request's timeout.
 */
export async function runsRecorded(bot: Bot, name: string, n: number): Promise<void> {
  await eventually(() => expect(bot.runtime.info(bot.guild.id, name, n + 10).runs).toHaveLength(n));
}

/** Waits until the bot has logged `msg` `n` times (counting from the start of the test). */
export async function logged(bot: Bot, msg: string, n = 1): Promise<Record<string, unknown>[]> {
  return eventually(() => {
    const lines = bot.logs.lines.filter((line) => line.msg === msg);
    expect(lines).toHaveLength(n);
    return lines;
  });
}

/** Polls `check` on real time (vi.waitFor is not driven by the fake clock). */
export function eventually<T>(check: () => T, timeoutMs = 3_000): Promise<T> {
  return vi.waitFor(check, { timeout: timeoutMs, interval: 10 });
}
