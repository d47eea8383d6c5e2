// The handler contract: what a task kind is. Built-in and custom handlers are both plain modules that
// default-export `defineHandler({...})`; the registry loads them the same way and knows nothing else.
import type { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import {
  ChannelType,
  type Client,
  type Guild,
  type GuildBasedChannel,
  type Message,
  type MessageCreateOptions,
  type PermissionsString,
} from 'discord.js';
import type { ZodType } from 'zod';
import type { Db } from '../db/index.js';
import type { Logger } from '../log.js';

/** The stored task a run belongs to, as a handler sees it. */
export interface HandlerTask<Options> {
  id: number;
  guildId: string;
  name: string;
  kind: string;
  channelId: string;
  options: Options;
  /** Iterations completed before this one. */
  currentLoop: number;
  /** Total iterations wanted, or null for forever. */
  count: number | null;
  /** The schedule's time zone (`at`, `cron`, a one-off), for dates as the server sees them; null for `every`. */
  timeZone: string | null;
}

/** Per-task key/value state for a handler, stored in the database and deleted with the task. */
export interface HandlerStore {
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown): void;
  delete(key: string): void;
}

/** What a handler learns of tasks from the runtime that runs them, instead of reading the tasks table. */
export interface RunningTasks {
  /**
   * Whether this bot runs the task now: true from start (or restart, or resume at start-up) until it is
   * stopped, cancelled, deleted or ends; false for a task this bot does not run (another shard's, say). A
   * graceful stop counts once the iteration in flight has finished.
   */
  isRunning(taskId: number): boolean;
}

export interface HandlerContext<Options, State = undefined> {
  task: HandlerTask<Options>;
  options: Options;
  /** This bot's state for the handler (what `createState` made); undefined for a handler without one. */
  state: State;
  /** Whether tasks run, from the runtime (a run that outlives its task checks here). */
  tasks: RunningTasks;
  client: Client<true>;
  guild: Guild;
  /** The task's channel from the cache, or null if it was deleted or the bot cannot see it. */
  channel: GuildBasedChannel | null;
  store: HandlerStore;
  /** The database, for built-ins that keep their own tables (counter, leaderboard); custom handlers use `store`. */
  db: Db;
  /** Aborted when the task is cancelled or the iteration times out: pass it to anything that waits. */
  signal: AbortSignal;
  /** The slot this run belongs to (not when it started). */
  scheduledAt: Date;
  iteration: number;
  /** Deterministic per task and slot: the same run retried or replayed after a crash posts once. */
  nonce: string;
  log: Logger;
  /**
   * Posts to the task's channel with the run's nonce (`enforce_nonce`) and no pings unless
   * `allowedMentions` says so.
   */
  send(message: string | MessageCreateOptions): Promise<Message>;
}

/** What a handler can do outside runs (listen to gateway events, say); returns a clean-up function. */
export interface HandlerSetupContext<State = undefined> {
  client: Client;
  /** The database, for built-ins that keep data outside runs (message counts); custom handlers use `store`. */
  db: Db;
  log: Logger;
  /** This bot's state for the handler (what `createState` made); undefined for a handler without one. */
  state: State;
  tasks: RunningTasks;
}

/**
 * A task kind. Several bots may run in one process (tests, the sandbox, shards), all sharing this one module
 * object: what a handler remembers between runs (timers, caches, listeners) belongs in the state that
 * `createState` makes once per bot, never in module-level variables, so that bots never share it and one
 * bot's clean-up never touches another's.
 */
export interface Handler<Options = unknown, State = unknown> {
  /** Lower-case, becomes `/task create <kind>`. */
  kind: string;
  /** Shown as the subcommand's description (≤ 100 characters). */
  description: string;
  /** Validates the kind's options as collected from the slash command (and as stored). */
  options: ZodType<Options>;
  /** Declares the kind's slash options; their names must match the keys of `options`. */
  slashOptions?: (builder: SlashCommandSubcommandBuilder) => SlashCommandSubcommandBuilder;
  run(ctx: HandlerContext<Options, State>): Promise<void>;
  /**
   * Optional: makes the handler's per-bot state, once per bot, before `setup` and any run; `setup`, `run`
   * and `status` get it as `state`. Synchronous, so every run can count on it: a listener or an await goes
   * in `setup`. Without it, `state` is undefined.
   */
  createState?(): State;
  /**
   * Optional: called once per bot at start-up, e.g. to count messages for a leaderboard; returns the
   * clean-up called when that bot stops (remove listeners, clear the state's timers).
   */
  setup?(ctx: HandlerSetupContext<State>): undefined | (() => void) | Promise<undefined | (() => void)>;
  /**
   * Optional: the permissions the bot needs in the task's channel, checked when the task is created so the
   * admin hears about a missing one at once. `guild` is the task's server, for needs that depend on it (a
   * role that only pings with Mention Everyone, say). Default: View Channel and Send Messages.
   */
  channelPermissions?(options: Options, guild: Guild): readonly PermissionsString[];
  /**
   * Optional: the channel types this kind's tasks work in, checked at create/edit. Default: text,
   * announcement and voice channels and threads (no forums), and no threads for a kind that needs Manage
   * Channels (it renames its channel).
   */
  channelTypes?(options: Options): readonly ChannelType[];
  /**
   * Optional: one line for `/task info` about the task's handler state (e.g. an update held back); `state`
   * is the bot's that answers the command.
   */
  status?(task: HandlerTask<Options>, store: HandlerStore, state: State): string | undefined;
}

/** Every channel type a task may be given (the `channel` option of create and edit). */
export const TASK_CHANNEL_TYPES = [
  ChannelType.GuildText,
  ChannelType.GuildAnnouncement,
  ChannelType.GuildVoice,
  ChannelType.AnnouncementThread,
  ChannelType.PublicThread,
  ChannelType.PrivateThread,
  ChannelType.GuildForum,
  ChannelType.GuildMedia,
] as const;

export type TaskChannelType = (typeof TASK_CHANNEL_TYPES)[number];

/** Identity at run time; gives a module its types. A plain object of the same shape is accepted too. */
export function defineHandler<Options, State = undefined>(
  handler: Handler<Options, State>,
): Handler<Options, State> {
  return handler;
}
