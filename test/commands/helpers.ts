import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type APIMessage, MessageFlags } from 'discord-api-types/v10';
import {
  type Emulator,
  type EmulatorOptions,
  type GuildHandle,
  type OptionValue,
  startEmulator,
} from '../../emulator/index.js';
import { type Bot, startBot } from '../../src/bot.js';
import { createLogger } from '../../src/log.js';

export const FIXTURE_HANDLERS = fileURLToPath(new URL('./fixtures/handlers', import.meta.url));

export interface TestGuild extends GuildHandle {
  admin: string;
  member: string;
}

export interface TestBot {
  emulator: Emulator;
  bot: Bot;
  /** "Guild A" and "Guild B", each with an admin (Manage Server) and a plain member. */
  a: TestGuild;
  b: TestGuild;
  dir: string;
  databasePath: string;
  /** Every log line the bot wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Runs a /task command as the guild's admin and resolves with its (ephemeral) reply. */
  run(path: string, options?: Record<string, OptionValue>, as?: Partial<Invoker>): Promise<string>;
  /**
   * Starts another bot on the same database and emulator (the first one stopped); `devGuildId` in `change`
   * switches the command scope (undefined: global).
   */
  restart(handlersDir?: string, change?: { devGuildId?: string | undefined }): Promise<Bot>;
  close(): Promise<void>;
}

export interface Invoker {
  guild: TestGuild;
  user: string;
  channel: string;
  ignoreDefaultMemberPermissions: boolean;
}

export function makeGuild(emulator: Emulator, name: string): TestGuild {
  const handle = emulator.world.createGuild({
    name,
    roles: [
      { name: 'Admins', permissions: ['ManageGuild'] },
      { name: 'Crew', mentionable: true },
    ],
    channels: [
      { name: 'general' },
      { name: 'announcements' },
      {
        name: 'locked',
        overwrites: [{ member: emulator.world.botUser.id, deny: ['SendMessages', 'ManageChannels'] }],
      },
      { name: 'stats', type: 'voice' },
    ],
    members: [
      { user: { username: `${name}-admin` }, roles: ['Admins'] },
      { user: { username: `${name}-member` } },
    ],
  });
  return { ...handle, admin: handle.members[`${name}-admin`]!, member: handle.members[`${name}-member`]! };
}

export interface StartOptions {
  handlersDir?: string;
  emulator?: EmulatorOptions;
  devGuild?: boolean;
  /** Defer replies sooner than the router's default, so the deferred path can be tested quickly. */
  deferAfterMs?: number;
  /** Writes the database file before the bot first opens it (what an older Metronome left, say). */
  before?: (databasePath: string, guilds: { a: TestGuild; b: TestGuild }) => void;
}

export async function startTestBot(options: StartOptions = {}): Promise<TestBot> {
  const emulator = await startEmulator(options.emulator);
  const a = makeGuild(emulator, 'a');
  const b = makeGuild(emulator, 'b');
  const dir = mkdtempSync(join(tmpdir(), 'metronome-commands-'));
  const databasePath = join(dir, 'bot.db');
  options.before?.(databasePath, { a, b });
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  const log = createLogger({ level: 'warn', destination, token: emulator.token });
  let devGuildId = options.devGuild ? a.id : undefined;
  const launch = (handlersDir = options.handlersDir ?? FIXTURE_HANDLERS) =>
    startBot({
      config: {
        discordToken: emulator.token,
        databasePath,
        handlersDir,
        devGuildId,
        discordApiBase: emulator.apiBase,
      },
      log,
      clientOptions: { testing: true, restTimeoutMs: 2_000, restRetries: 1 },
      deferAfterMs: options.deferAfterMs,
    });
  let bot = await launch();
  const testBot: TestBot = {
    emulator,
    get bot() {
      return bot;
    },
    a,
    b,
    dir,
    databasePath,
    logs,
    async run(path, values = {}, as = {}) {
      const reply = await invoke(emulator, path, values, { guild: a, ...as });
      return reply.content;
    },
    async restart(handlersDir, change) {
      await bot.stop();
      if (change && 'devGuildId' in change) devGuildId = change.devGuildId;
      bot = await launch(handlersDir);
      return bot;
    },
    async close() {
      await bot.stop();
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return testBot;
}

/** `create reminder` → group create, subcommand reminder; `list` → subcommand list. */
export function splitPath(path: string): { group?: string; subcommand: string } {
  const [first, second] = path.trim().split(/\s+/);
  return second === undefined ? { subcommand: first! } : { group: first!, subcommand: second };
}

export async function invoke(
  emulator: Emulator,
  path: string,
  options: Record<string, OptionValue>,
  as: Partial<Invoker> & { guild: TestGuild },
): Promise<APIMessage> {
  const handle = emulator.invokeSlash({
    command: 'task',
    ...splitPath(path),
    options,
    user: as.user ?? as.guild.admin,
    guild: as.guild.id,
    channel: as.channel ?? as.guild.channels.general!,
    ignoreDefaultMemberPermissions: as.ignoreDefaultMemberPermissions ?? false,
  });
  const reply = await handle.waitForReply(undefined, { timeoutMs: 5_000 });
  if (((reply.flags ?? 0) & MessageFlags.Ephemeral) === 0)
    throw new Error(`reply not ephemeral: ${reply.content}`);
  return reply;
}
