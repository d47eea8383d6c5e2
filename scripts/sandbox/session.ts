// A sandbox session: the emulator with a demo server, the real bot on a temporary database (with the
// author's handler modules beside the built-ins, reloaded when they change), and a way to type /task
// commands as the server's admin and watch what the bot does in the channels.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import {
  type APIChannel,
  type APIMessage,
  ApplicationCommandOptionType,
  GatewayDispatchEvents,
} from 'discord-api-types/v10';
import {
  type Emulator,
  type GuildHandle,
  InvocationError,
  MAX_ATTACHMENT_BYTES,
  startEmulator,
} from '../../emulator/index.js';
import { type Bot, startBot } from '../../src/bot.js';
import { COMMON_CREATE_OPTIONS, type SkippedModule } from '../../src/handlers/registry.js';
import { createLogger } from '../../src/log.js';
import { ADMIN as DEMO_ADMIN, DEMO_SERVER } from '../../src/testing/demo-server.js';
import { type FreshModules, freshModulesUnder } from './fresh-modules.js';
import { type AttachFile, parseCommandLine } from './parse.js';
import { pressButton } from './press.js';
import { customFiles, notLoaded, notOffered, reloadHandlers } from './reload.js';
import { clock, render, renderMessage } from './render.js';
import { type FolderWatch, watchSources } from './watch.js';

export interface SessionOptions {
  verbose?: boolean;
  /** Where the session prints what happens (defaults to console.log). */
  print?: (line: string) => void;
  /** A folder of handler modules, loaded beside the built-ins as `npm start` loads HANDLERS_DIR. */
  handlersDir?: string;
  /** Reload the folder's modules when a file in it changes (the interactive sandbox). */
  liveReload?: boolean;
}

export interface Session {
  emulator: Emulator;
  /** The bot now running: a reload replaces it with a new one on the same database. */
  readonly bot: Bot;
  guild: GuildHandle;
  /** Modules of the handlers folder that failed to load when the session started, with why. */
  readonly loadProblems: readonly SkippedModule[];
  /** Runs one /task line as demo-admin; resolves true if the bot answered. */
  run(line: string): Promise<boolean>;
  /** Clicks the button labelled like `label` (`next`) on the newest reply that has one, as demo-admin. */
  press(label: string): Promise<boolean>;
  help(): string;
  /** Re-imports the handler modules after `changed` were edited and restarts the bot on them. */
  reload(changed: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export async function startSession(options: SessionOptions = {}): Promise<Session> {
  const print = options.print ?? ((line: string) => console.log(line));
  const handlersDir = options.handlersDir === undefined ? undefined : resolve(options.handlersDir);
  // Before the bot first imports the folder: only modules imported after it can be renewed.
  const fresh: FreshModules | undefined =
    handlersDir !== undefined && options.liveReload ? freshModulesUnder(handlersDir) : undefined;
  const emulator = await startEmulator({ strict: false });
  const guild = emulator.world.createGuild(DEMO_SERVER);
  const dir = mkdtempSync(join(tmpdir(), 'metronome-sandbox-'));
  const log = createLogger({
    level: options.verbose ? 'info' : 'warn',
    token: emulator.token,
    destination: options.verbose ? process.stderr : withoutSkippedModules(process.stderr),
  });
  watchChannels(emulator, guild, print);
  const start = () =>
    startBot({
      config: {
        discordToken: emulator.token,
        discordApiBase: emulator.apiBase,
        databasePath: join(dir, 'sandbox.db'),
        handlersDir,
        devGuildId: undefined,
      },
      log,
      clientOptions: { testing: true },
    });
  let bot: Bot;
  try {
    bot = await start();
  } catch (error) {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const loadProblems = [...bot.registry.skipped];
  if (handlersDir !== undefined) printLoaded(bot, handlersDir, print);
  const admin = guild.members[DEMO_ADMIN]!;
  const definition = () => emulator.commands.resolveChatInput(guild.id, 'task');
  const attach = attachLocalFile(emulator);
  const exportsDir = join(dir, 'exports');
  // One reload at a time, and a command typed meanwhile waits for the bot it should reach.
  let reloading: Promise<void> = Promise.resolve();
  const reload = (changed: readonly string[]): Promise<void> => {
    reloading = reloading.then(async () => {
      if (handlersDir === undefined || fresh === undefined) return;
      bot = await reloadHandlers({
        bot,
        dir: handlersDir,
        changed,
        fresh,
        restart: start,
        guildId: guild.id,
        print: (line) => print(`${stamp()} ${line}`),
      });
    });
    return reloading;
  };
  let watching: FolderWatch | undefined;
  if (handlersDir !== undefined && fresh !== undefined) {
    watching = watchSources(handlersDir, (changed) => {
      reload(changed).catch((error: unknown) => {
        // The old bot is stopped and the new one did not start: nothing is left to type commands to.
        print(
          `${stamp()} ✗ the bot could not restart after the edit, so the sandbox stops: ${String(error)}`,
        );
        void close().finally(() => process.exit(1));
      });
    });
  }
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      watching?.close();
      await reloading.catch(() => undefined);
      await bot.stop();
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    })();
    return closed;
  };

  return {
    emulator,
    get bot() {
      return bot;
    },
    guild,
    loadProblems,
    async run(line) {
      await reloading;
      const parsed = parseCommandLine(line, definition(), guild, attach);
      if (!parsed.ok) {
        print(`${stamp()} ✗ ${parsed.error}`);
        return false;
      }
      try {
        const handle = emulator.invokeSlash({
          ...parsed.value,
          user: admin,
          guild: guild.id,
          channel: guild.channels.general!,
        });
        const reply = await handle.waitForReply(undefined, { timeoutMs: 6_000 });
        print(`${stamp()} (only you) ${renderMessage(reply, emulator.world)}`);
        for (const file of reply.attachments) {
          // Saved where the user can read it, or hand it back to /task import in this session.
          mkdirSync(exportsDir, { recursive: true });
          const path = join(exportsDir, basename(file.filename));
          writeFileSync(path, emulator.downloadAttachment(file.url));
          print(`${stamp()} 📎 ${file.filename} (${sizeText(file.size)}), saved as ${path}`);
        }
        return true;
      } catch (error) {
        const why =
          error instanceof InvocationError ? `Discord would refuse that: ${error.message}` : String(error);
        print(`${stamp()} ✗ ${why}`);
        return false;
      }
    },
    press: async (label) => {
      await reloading;
      return pressButton(emulator, admin, label, print);
    },
    help: () =>
      helpText(
        definition()?.options ?? [],
        handlersDir === undefined ? undefined : customHelp(bot, handlersDir, definition()),
      ),
    reload,
    close,
  };
}

/** The log without its lines for skipped handler modules: the prompt names them in a sentence of its own. */
function withoutSkippedModules(out: NodeJS.WritableStream): NodeJS.WritableStream {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!chunk.toString().includes('"msg":"handler module skipped"')) out.write(chunk);
      done();
    },
  });
}

/** What the bot made of the handlers folder: the kinds it loaded, and each module it could not load. */
function printLoaded(bot: Bot, handlersDir: string, print: (line: string) => void): void {
  const loaded = [...customFiles(bot)].map(([kind, file]) => `${kind} (${basename(file)})`);
  print(
    `${stamp()} ${loaded.length === 0 ? 'No handler loaded' : `Loaded ${loaded.join(', ')}`} from ${handlersDir}`,
  );
  for (const module of bot.registry.skipped) print(`${stamp()} ${notLoaded(module)}`);
  for (const left of bot.started.notOffered) print(`${stamp()} ${notOffered(left)}`);
}

/** Uploads a local file (path relative to the current folder) as Discord's client would for `file:`. */
function attachLocalFile(emulator: Emulator): AttachFile {
  return (path) => {
    const full = resolve(path);
    let size: number;
    try {
      size = statSync(full).size;
    } catch {
      return { ok: false, error: `there is no file ${full}` };
    }
    if (size > MAX_ATTACHMENT_BYTES)
      return {
        ok: false,
        error: `${full} is larger than Discord's ${sizeText(MAX_ATTACHMENT_BYTES)} upload limit`,
      };
    return {
      ok: true,
      id: emulator.uploadAttachment({ filename: basename(full), content: readFileSync(full) }),
    };
  };
}

function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function stamp(): string {
  return `[${clock()}]`;
}

/** Prints posts, edits, deletions and renames in the demo server's channels as they happen. */
function watchChannels(emulator: Emulator, guild: GuildHandle, print: (line: string) => void): void {
  const { world } = emulator;
  const names = new Map(
    Object.entries({ ...guild.channels, ...guild.threads }).map(([name, id]) => [id, name]),
  );
  world.onDispatch((event, data, guildId) => {
    if (guildId !== guild.id) return;
    if (event === GatewayDispatchEvents.MessageCreate || event === GatewayDispatchEvents.MessageUpdate) {
      const message = data as APIMessage;
      const channel = names.get(message.channel_id) ?? message.channel_id;
      const edited = event === GatewayDispatchEvents.MessageUpdate ? ' (edited)' : '';
      const embeds = (message.embeds ?? []).map((embed) =>
        [embed.title && `[${embed.title}]`, embed.description].filter(Boolean).join(' '),
      );
      const text = [message.content, ...embeds].filter(Boolean).join(' ');
      print(`${stamp()} #${channel} ${message.author.username}${edited}: ${render(text, world)}`);
    } else if (event === GatewayDispatchEvents.ThreadCreate) {
      const thread = data as APIChannel & { name: string; parent_id?: string | null };
      const parent = thread.parent_id ? (names.get(thread.parent_id) ?? thread.parent_id) : '?';
      names.set(thread.id, `${parent} › ${thread.name}`);
      print(`${stamp()} #${parent}: new post "${thread.name}"`);
    } else if (event === GatewayDispatchEvents.ChannelUpdate) {
      const channel = data as APIChannel & { name?: string };
      const before = names.get(channel.id);
      if (channel.name && before !== channel.name) {
        print(`${stamp()} channel #${before ?? channel.id} renamed to "${channel.name}"`);
        names.set(channel.id, channel.name);
      }
    }
  });
}

/** What `help` reads of an option; Discord's own option types differ on whether they nest `options`. */
interface OptionLike {
  name: string;
  description?: string;
  type: ApplicationCommandOptionType;
  required?: boolean;
  options?: readonly OptionLike[];
}

/** The folder's kinds, each with its description and its own options (the common ones are listed above). */
function customHelp(
  bot: Bot,
  handlersDir: string,
  definition: { options?: readonly OptionLike[] } | undefined,
): string[] {
  const kinds = customFiles(bot);
  const lines = [`Your handlers, from ${handlersDir}:`];
  if (kinds.size === 0) lines.push('  none loaded (a module default-exports defineHandler({...}))');
  const create = definition?.options?.find((option) => option.name === 'create')?.options ?? [];
  const common = new Set<string>(COMMON_CREATE_OPTIONS);
  for (const [kind, file] of kinds) {
    const sub = create.find((option) => option.name === kind);
    if (sub === undefined) {
      lines.push(`  ${kind} (${basename(file)}): loaded, but /task create ${kind} is not offered`);
      continue;
    }
    lines.push(`  ${kind} (${basename(file)}): ${sub.description ?? ''}`);
    for (const option of (sub.options ?? []).filter((o) => !common.has(o.name))) {
      lines.push(`    ${option.name}${option.required ? ' (required)' : ''}: ${option.description ?? ''}`);
    }
  }
  for (const module of bot.registry.skipped) lines.push(`  ${notLoaded(module)}`);
  return lines;
}

function helpText(options: readonly OptionLike[], custom: string[] | undefined): string {
  const lines = [
    `Type /task commands as ${DEMO_ADMIN} (Manage Server) in #general. Options are name:value; quote values with spaces.`,
    'Channels are #general, #announcements, #stats, the forum #ideas and the thread #standups; roles @Crew, @Admins; members @alice, @bob.',
    'A file option takes a local path (file:./tasks.json); files the bot sends are saved and their path printed.',
    '',
  ];
  const usage = (path: string, leaf: readonly OptionLike[] = []) =>
    `  /task ${path}${leaf.map((o) => (o.required ? ` ${o.name}:…` : ` [${o.name}:…]`)).join('')}`;
  for (const option of options) {
    if (option.type === ApplicationCommandOptionType.SubcommandGroup)
      for (const sub of option.options ?? []) lines.push(usage(`${option.name} ${sub.name}`, sub.options));
    else lines.push(usage(option.name, option.options));
  }
  lines.push(
    '',
    'Schedules: every:15m | at:09:00 | at:"mon,wed,fri 9am" | at:"2026-12-24 18:00" | at:"tomorrow 9am" | ' +
      'at:"in 2 hours" | cron:"0 9 * * 1"; timezone:paris, CET or Europe/Paris (default: /task settings).',
    'Example: /task create reminder name:standup channel:#general every:10s message:"Stand-up time!"',
  );
  if (custom) lines.push('', ...custom);
  lines.push(
    "Also: wait 12s (let time pass), press next / press previous (turn a list's pages), help, exit.",
  );
  return lines.join('\n');
}
