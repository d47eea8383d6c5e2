// A sandbox session: the emulator with a demo server, the real bot on a temporary database, and a way to
// type /task commands as the server's admin and watch what the bot does in the channels.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
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
import { createLogger } from '../../src/log.js';
import { type AttachFile, parseCommandLine } from './parse.js';
import { pressButton } from './press.js';
import { clock, render, renderMessage } from './render.js';

const DEMO_ADMIN = 'demo-admin';

export interface SessionOptions {
  verbose?: boolean;
  /** Where the session prints what happens (defaults to console.log). */
  print?: (line: string) => void;
}

export interface Session {
  emulator: Emulator;
  bot: Bot;
  guild: GuildHandle;
  /** Runs one /task line as demo-admin; resolves true if the bot answered. */
  run(line: string): Promise<boolean>;
  /** Clicks the button labelled like `label` (`next`) on the newest reply that has one, as demo-admin. */
  press(label: string): Promise<boolean>;
  help(): string;
  close(): Promise<void>;
}

export async function startSession(options: SessionOptions = {}): Promise<Session> {
  const print = options.print ?? ((line: string) => console.log(line));
  const emulator = await startEmulator({ strict: false });
  const guild = emulator.world.createGuild({
    name: 'Demo Server',
    roles: [
      { name: 'Admins', permissions: ['ManageGuild'] },
      { name: 'Crew', mentionable: true },
    ],
    channels: [
      { name: 'general' },
      { name: 'announcements' },
      { name: 'stats', type: 'voice' },
      { name: 'ideas', type: 'forum', topic: 'One post per idea' },
    ],
    threads: [{ name: 'standups', parent: 'general' }],
    members: [
      { user: { username: DEMO_ADMIN, globalName: 'Demo Admin' }, roles: ['Admins'] },
      { user: { username: 'alice' }, roles: ['Crew'] },
      { user: { username: 'bob' } },
    ],
  });
  const dir = mkdtempSync(join(tmpdir(), 'metronome-sandbox-'));
  const log = createLogger({
    level: options.verbose ? 'info' : 'warn',
    token: emulator.token,
    destination: process.stderr,
  });
  watchChannels(emulator, guild, print);
  let bot: Bot;
  try {
    bot = await startBot({
      config: {
        discordToken: emulator.token,
        discordApiBase: emulator.apiBase,
        databasePath: join(dir, 'sandbox.db'),
        handlersDir: undefined,
        devGuildId: undefined,
      },
      log,
      clientOptions: { testing: true },
    });
  } catch (error) {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const admin = guild.members[DEMO_ADMIN]!;
  const definition = () => emulator.commands.resolveChatInput(guild.id, 'task');
  const attach = attachLocalFile(emulator);
  const exportsDir = join(dir, 'exports');

  return {
    emulator,
    bot,
    guild,
    async run(line) {
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
    press: (label) => pressButton(emulator, admin, label, print),
    help: () => helpText(definition()?.options ?? []),
    async close() {
      await bot.stop();
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
  type: ApplicationCommandOptionType;
  required?: boolean;
  options?: readonly OptionLike[];
}

function helpText(options: readonly OptionLike[]): string {
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
  lines.push(
    "Also: wait 12s (let time pass), press next / press previous (turn a list's pages), help, exit.",
  );
  return lines.join('\n');
}
