// handlerTestbed: a handler's test in a few lines. The emulator with a demo server, the real bot (the same
// assembly `npm start` runs) on an in-memory database, and vitest's fake clock; the test creates tasks with the
// real `/task create` as the server's admin, lets days pass in milliseconds and reads what was posted.
import { Writable } from 'node:stream';
import type { Client } from 'discord.js';
import { type APIMessage, MessageFlags } from 'discord-api-types/v10';
import { vi } from 'vitest';
import { type Emulator, type GuildHandle, InvocationError, type OptionValue, startEmulator } from '#emulator';
import { type Assembly, assemble } from '../assemble.js';
import { TASK_COMMAND_NAME } from '../commands/index.js';
import { type DatabaseConnection, openDatabase } from '../db/index.js';
import { createClient } from '../discord/client.js';
import { durationSeconds } from '../discord/input.js';
import { syncCommands } from '../discord/sync.js';
import type { Handler } from '../handlers/define.js';
import { createLogger } from '../log.js';
import { ADMIN, channelId, commandOptions, DEMO_SERVER, resolveOptionValues } from './demo-server.js';
import { advanceClock, FAKED, WorkInFlight, withinRealTime } from './fake-clock.js';

export interface TestbedOptions {
  /** The handlers under test, as their modules default-export them; the built-ins are there too. */
  handlers?: readonly Handler[];
  /** A folder of handler modules to load as well, as HANDLERS_DIR. */
  handlersDir?: string;
  /** Where the fake clock starts (default: now). */
  now?: Date | number | string;
}

/** The settings every task has, as `/task create` takes them; the handler's own options go beside. */
export interface TaskSettings {
  /** Default: the kind, or the kind with a number when a task of that name exists. */
  name?: string;
  /** `#general` (default), any channel of the demo server, or an id. */
  channel?: string;
  every?: string;
  at?: string;
  cron?: string;
  timezone?: string;
  count?: number;
  catchup?: 'skip' | 'once';
  timeout?: string;
}

/** A task the testbed created. */
export interface TestTask {
  name: string;
  kind: string;
}

/** One line of the bot's log (pino's JSON, parsed). */
export type LogLine = Record<string, unknown> & { level: number; msg?: string };

export interface Testbed {
  /** The local Discord: its `world` holds the server, its `rest.faults` inject failures. */
  readonly emulator: Emulator;
  /** The demo server: ids of its channels, roles and members by name. */
  readonly guild: GuildHandle;
  readonly client: Client;
  /** What the bot logged, handlers' `ctx.log` included. */
  readonly logs: readonly LogLine[];
  /**
   * `/task create <kind>` as the server's admin, with the handler's options (`#channel`, `@role` and `@member`
   * names are turned into ids for options of those types) and the task's settings (default: `every: '1d'`).
   * Throws with the bot's reply if it refuses; then lets what is due now run.
   */
  create(kind: string, options?: Record<string, OptionValue>, settings?: TaskSettings): Promise<TestTask>;
  /** Any `/task` command (`'stop'`, `'create qotd'`) as the server's admin; resolves with the bot's reply. */
  run(command: string, options?: Record<string, OptionValue>): Promise<string>;
  /** `/task info` of the task: its state, progress (`3 runs done`), runs, last error and handler status. */
  info(task: TestTask | string): Promise<string>;
  /**
   * Moves the fake clock (`'90s'`, `'2d'`, or milliseconds) timer by timer, letting each run finish (its
   * requests, its I/O) before the next: days pass in milliseconds, and every run due on the way happens.
   */
  advance(duration: string | number): Promise<void>;
  /** The messages in a channel (default `#general`), oldest first, as they are now; ephemeral replies left out. */
  posts(channel?: string): APIMessage[];
  /** A member (`alice`, `bob`, `demo-admin`) posts in a channel, as the gateway tells the bot. */
  say(channel: string, member: string, content: string): APIMessage;
  /** Stops the bot and starts it again on the same database, as after a restart: tasks resume by their rules. */
  restart(): Promise<void>;
  /** Stops the bot, the emulator and the fake clock. */
  close(): Promise<void>;
}

/** How long the bot has to answer a command, in real time: everything is local. */
const REPLY_BOUND_MS = 10_000;

export async function handlerTestbed(options: TestbedOptions = {}): Promise<Testbed> {
  if (vi.isFakeTimers()) {
    // Faked timers are global: a second testbed would take the clock from under the first.
    throw new Error(
      'The fake clock is already in use (another testbed, or vi.useFakeTimers()): close that first.',
    );
  }
  const work = new WorkInFlight();
  const handlers = (options.handlers ?? []).map((handler) => tracked(handler, work));
  const startMs = options.now === undefined ? Date.now() : new Date(options.now).getTime();
  if (Number.isNaN(startMs)) throw new Error(`now: "${String(options.now)}" is not a date.`);
  const emulator = await startEmulator();
  const guild = emulator.world.createGuild(DEMO_SERVER);
  const logs: LogLine[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const log = createLogger({ level: 'debug', token: emulator.token, destination });
  const client = createClient({ token: emulator.token, apiBase: emulator.apiBase, testing: true });
  countRequests(client, work);
  let connection: DatabaseConnection | undefined;
  let assembly: Assembly | undefined;
  const stopAll = async () => {
    await assembly?.stop(0);
    assembly = undefined;
    if (vi.isFakeTimers()) vi.useRealTimers();
    await client.destroy();
    connection?.close();
    connection = undefined;
    await emulator.close();
  };
  try {
    // Logged in on real time (the handshake's timers must run), then the clock is faked before anything else
    // starts: the handlers' setup timers and every task's timers run on the clock the test moves.
    const ready = new Promise<void>((resolve) => client.once('clientReady', () => resolve()));
    await client.login();
    await ready;
    vi.useFakeTimers({ toFake: [...FAKED], now: startMs });
    connection = openDatabase(':memory:');
    const db = connection.db;
    const start = async () => {
      assembly = await assemble({
        client,
        db,
        handlerDirs: options.handlersDir === undefined ? [] : [options.handlersDir],
        handlers,
        log,
      });
      await syncCommands({
        client: client as Client<true>,
        db,
        commands: [assembly.command.json],
        guildId: guild.id,
        log,
      });
      assembly.runtime.resumeAll();
    };
    await start();

    const invoke = async (command: string, values: Record<string, OptionValue>): Promise<string> => {
      const path = command
        .trim()
        .replace(/^\/?task\s+/, '')
        .split(/\s+/);
      const definition = emulator.commands.resolveChatInput(guild.id, TASK_COMMAND_NAME);
      const leaf = commandOptions(definition, path);
      if (leaf === undefined) throw new Error(`/task has no subcommand "${path.join(' ')}".`);
      const [first, second] = path;
      let handle: ReturnType<Emulator['invokeSlash']>;
      try {
        handle = emulator.invokeSlash({
          command: TASK_COMMAND_NAME,
          ...(second === undefined ? { subcommand: first! } : { group: first!, subcommand: second }),
          options: resolveOptionValues(guild, leaf, values),
          user: guild.members[ADMIN]!,
          guild: guild.id,
          channel: guild.channels.general!,
        });
      } catch (error) {
        if (error instanceof InvocationError) throw new Error(`Discord would refuse that: ${error.message}`);
        throw error;
      }
      const reply = await withinRealTime(
        handle.waitForReply(undefined, { timeoutMs: REPLY_BOUND_MS }),
        REPLY_BOUND_MS,
        `The bot did not answer /task ${path.join(' ')} within ${REPLY_BOUND_MS / 1_000} s.`,
      );
      return reply.content;
    };

    const bed: Testbed = {
      emulator,
      guild,
      client,
      logs,
      async create(kind, values = {}, settings = {}) {
        const taken = new Set(assembly!.runtime.list(guild.id).map((task) => task.name));
        const name = settings.name ?? freeName(kind, taken);
        const scheduled =
          settings.every !== undefined || settings.at !== undefined || settings.cron !== undefined;
        const reply = await invoke(`create ${kind}`, {
          ...(scheduled ? {} : { every: '1d' }),
          channel: '#general',
          ...(settings as Record<string, OptionValue>),
          name,
          ...values,
        });
        if (!assembly!.runtime.list(guild.id).some((task) => task.name === name)) {
          throw new Error(`/task create ${kind} was refused: ${reply}`);
        }
        await advanceClock(0, work);
        return { name, kind };
      },
      run: (command, values = {}) => invoke(command, values),
      info: (task) => invoke('info', { name: typeof task === 'string' ? task : task.name }),
      async advance(duration) {
        await advanceClock(durationMs(duration), work);
      },
      posts(channel = '#general') {
        return emulator.world
          .messages(channelId(guild, channel))
          .filter((record) => !record.deleted && !record.ephemeral)
          .filter((record) => ((record.message.flags ?? 0) & MessageFlags.Ephemeral) === 0)
          .map((record) => record.message);
      },
      say(channel, member, content) {
        const author = guild.members[member.replace(/^@/, '')];
        if (author === undefined) {
          throw new Error(
            `The demo server has no member ${member}; it has ${Object.keys(guild.members).join(', ')}.`,
          );
        }
        return emulator.world.postMessage({ channel: channelId(guild, channel), author, content });
      },
      async restart() {
        await assembly!.stop(0);
        assembly = undefined;
        await start();
        await advanceClock(0, work);
      },
      close: stopAll,
    };
    return bed;
  } catch (error) {
    await stopAll().catch(() => {});
    throw error;
  }
}

/** A copy of the handler whose runs are counted, so advance() waits for them. */
function tracked(handler: Handler, work: WorkInFlight): Handler {
  return {
    ...handler,
    run(ctx) {
      return work.track(() => handler.run.call(this, ctx));
    },
  };
}

/** Counts the requests on their way to Discord: discord.js times them out on the (fake) clock. */
function countRequests(client: Client, work: WorkInFlight): void {
  const rest = client.rest.options;
  const makeRequest = rest.makeRequest;
  rest.makeRequest = (url, init) => work.track(() => makeRequest(url, init));
}

function durationMs(duration: string | number): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration) || duration < 0) {
      throw new Error(`advance(${duration}): give a number of milliseconds, 0 or more.`);
    }
    return duration;
  }
  const seconds = durationSeconds(duration);
  if (seconds === undefined) {
    throw new Error(
      `advance("${duration}"): write the time like 90s, 15m, 1h30m or 2d, or give milliseconds.`,
    );
  }
  return seconds * 1_000;
}

function freeName(kind: string, taken: ReadonlySet<string>): string {
  if (!taken.has(kind)) return kind;
  let n = 2;
  while (taken.has(`${kind}-${n}`)) n++;
  return `${kind}-${n}`;
}
