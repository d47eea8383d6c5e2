// counter: renders a template such as "Members: {members}" from the gateway cache into the task channel's
// name, or into one message the bot posts once and then edits.
//
// Channel renames are limited by Discord to 2 per 10 minutes per channel, and a 429 for that sublimit can
// hold the request for minutes. So the counter keeps its own record of recent renames (counter_state)
// and never sends a rename the window would refuse: a change that arrives with the window full is held
// (latest value wins) and applied by a timer when the window opens, or by the next run if that is sooner.
// Anyone renaming the channel spends the same budget, so Discord may still answer 429: the client rejects
// a channel edit's rate limit instead of waiting out its retry-after inside the run (see createClient), and
// the counter holds the rename the same way until the time Discord gave. A held rename is dropped once its
// task stops, is cancelled or deleted; `/task info` mentions it only while something will apply it.
//
// Exact counts need the GuildMembers privileged intent: {members} is Discord's member count either way, but
// {humans}, {bots} and {role:<id>} count the member cache, which is complete only with that intent.
import {
  ChannelType,
  type Client,
  DiscordAPIError,
  type Guild,
  type GuildMember,
  RateLimitError,
  RESTJSONErrorCodes,
} from 'discord.js';
import { z } from 'zod';
import { type Db, getCounterState, getTaskById, saveCounterState } from '../../db/index.js';
import type { Logger } from '../../log.js';
import { KeyedLock } from '../../tasks/index.js';
import { defineHandler, type HandlerStore } from '../define.js';

export const RENAME_LIMIT = 2;
export const RENAME_WINDOW_MS = 10 * 60_000;
/** Our clock and Discord's differ a little; opening the window a moment late never costs a 429. */
const RENAME_MARGIN_MS = 1_000;
const MAX_CHANNEL_NAME = 100;
const MAX_CONTENT = 2_000;

const COUNTS = ['members', 'humans', 'bots', 'boosts', 'channels', 'roles'] as const;
type CountName = (typeof COUNTS)[number];
const PLACEHOLDER = /\{([^{}]*)\}/g;
const ROLE_PLACEHOLDER = /^role:(\d{17,20})$/;
const VALID_PLACEHOLDERS = `${COUNTS.map((name) => `{${name}}`).join(', ')} or {role:<role id>}`;

const options = z.object({
  template: z
    .string()
    .trim()
    .min(1, 'the template is empty')
    .max(MAX_CONTENT)
    .superRefine((template, ctx) => {
      const unknown = [...template.matchAll(PLACEHOLDER)]
        .map((match) => match[1]!)
        .filter((name) => !(COUNTS as readonly string[]).includes(name) && !ROLE_PLACEHOLDER.test(name));
      if (unknown.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown placeholder ${unknown.map((name) => `{${name}}`).join(', ')}; use ${VALID_PLACEHOLDERS}`,
        });
      }
    }),
  target: z.enum(['name', 'message']).default('name'),
});

type CounterOptions = z.infer<typeof options>;

/** Until when (ms) Discord refused renames with a 429: others' renames spent the channel's budget. */
const BLOCKED_KEY = 'renameBlockedUntil';

/** Members counted between two turns of the event loop: a large server caches hundreds of thousands. */
const MEMBERS_PER_SLICE = 5_000;

interface MemberCounts {
  humans: number;
  bots: number;
  /** Members per role id the template asks for. */
  roles: Map<string, number>;
}

/**
 * A member's role ids. discord.js keeps them in `_roles`; its public `member.roles.cache` (and so
 * `Role#members`) filters every role of the guild for each member, which over a large server's member
 * cache costs seconds per role counted. The public path stays as the fallback.
 */
function roleIdsOf(member: GuildMember): readonly string[] {
  const own = (member as unknown as { _roles?: unknown })._roles;
  return Array.isArray(own) ? (own as string[]) : [...member.roles.cache.keys()];
}

/** Humans, bots and members of each role in `roleIds`, in one pass over the member cache, in slices. */
async function countMembers(guild: Guild, roleIds: ReadonlySet<string>): Promise<MemberCounts> {
  const counts: MemberCounts = { humans: 0, bots: 0, roles: new Map() };
  for (const id of roleIds) counts.roles.set(id, 0);
  let seen = 0;
  for (const member of guild.members.cache.values()) {
    if (member.user.bot) counts.bots++;
    else counts.humans++;
    if (roleIds.size > 0) {
      for (const id of roleIdsOf(member)) {
        const members = counts.roles.get(id);
        if (members !== undefined) counts.roles.set(id, members + 1);
      }
    }
    if (++seen % MEMBERS_PER_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return counts;
}

/** The template with its placeholders replaced by counts from the gateway cache. */
export async function renderCounter(template: string, guild: Guild): Promise<string> {
  const placeholders = [...template.matchAll(PLACEHOLDER)].map((match) => match[1]!);
  // Only roles that exist: a deleted role counts 0, as Role#members would (it is gone from the cache).
  const roleIds = new Set(
    placeholders
      .map((name) => ROLE_PLACEHOLDER.exec(name)?.[1])
      .filter((id): id is string => id !== undefined && id !== guild.id && guild.roles.cache.has(id)),
  );
  const needsMembers = roleIds.size > 0 || placeholders.some((name) => name === 'humans' || name === 'bots');
  const members = needsMembers
    ? await countMembers(guild, roleIds)
    : { humans: 0, bots: 0, roles: new Map() };
  const counts: Record<CountName, number> = {
    members: guild.memberCount,
    humans: members.humans,
    bots: members.bots,
    boosts: guild.premiumSubscriptionCount ?? 0,
    channels: guild.channels.cache.filter(
      (channel) => channel.type !== ChannelType.GuildCategory && !channel.isThread(),
    ).size,
    // Without @everyone, which every guild has and nobody counts.
    roles: guild.roles.cache.size - 1,
  };
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    const role = ROLE_PLACEHOLDER.exec(name);
    // The @everyone role's id is the guild's: every cached member has it.
    if (role)
      return String(role[1] === guild.id ? guild.members.cache.size : (members.roles.get(role[1]!) ?? 0));
    return (COUNTS as readonly string[]).includes(name) ? String(counts[name as CountName]) : whole;
  });
}

// One rename at a time per task (a run and a held-rename timer may meet), and the held renames' timers.
// Only a held rename with a timer in this process will be applied, so the timer is also what `status()` reads.
const renames = new KeyedLock<number>();
const heldTimers = new Map<number, HeldTimer>();

interface HeldTimer {
  timer: ReturnType<typeof setTimeout>;
  /** What the timer renames with; `status()` reads the task's state through its database. */
  deps: RenameDeps;
  /** The held text (latest value wins) and when the rename window opens for it (ms). */
  text: string;
  opensAt: number;
}

function clearHeldTimer(taskId: number): void {
  clearTimeout(heldTimers.get(taskId)?.timer);
  heldTimers.delete(taskId);
}

interface RenameDeps {
  db: Db;
  client: Client;
  store: HandlerStore;
  log: Logger;
  taskId: number;
  channelId: string;
  /** The run's signal on the run path; the held timer has none. */
  signal?: AbortSignal;
}

/** When the next rename may go: our own window of recent renames, or later if Discord said so with a 429. */
function renameOpensAt(recent: readonly number[], blockedUntil: number | null, now: number): number {
  const windowOpensAt =
    recent.length >= RENAME_LIMIT
      ? recent[recent.length - RENAME_LIMIT]! + RENAME_WINDOW_MS + RENAME_MARGIN_MS
      : now;
  return Math.max(windowOpensAt, blockedUntil ?? now);
}

/** Renames the channel to `text` if it changed and the window allows; otherwise holds it for later. */
async function renameWithinLimit(deps: RenameDeps, text: string): Promise<void> {
  const { db, client, store, taskId, channelId } = deps;
  const state = getCounterState(db, taskId);
  const now = Date.now();
  // A rename counts for the window plus the margin, on the run path as on the timer's.
  const recent = (state?.renameTimes ?? [])
    .filter((at) => at > now - RENAME_WINDOW_MS - RENAME_MARGIN_MS)
    .sort((a, b) => a - b);
  if (text === state?.renderedText) {
    // Back to what the channel shows: nothing to send, and nothing to hold any more.
    if (state.pendingText !== null) {
      saveCounterState(db, { taskId, pendingText: null, renameTimes: recent });
      clearHeldTimer(taskId);
    }
    return;
  }
  const opensAt = renameOpensAt(recent, store.get<number>(BLOCKED_KEY) ?? null, now);
  if (opensAt > now) {
    holdRename(deps, text, recent, opensAt);
    return;
  }
  const channel = client.channels.cache.get(channelId);
  if (!channel || channel.isDMBased() || channel.isThread()) {
    throw new Error(`the channel ${channelId} no longer exists or the bot cannot see it`);
  }
  // Discord's rename has no abort; a cancelled run at least sends nothing new.
  deps.signal?.throwIfAborted();
  try {
    await channel.setName(text, 'Metronome counter');
  } catch (error) {
    // The client rejects a channel edit's 429 instead of waiting minutes in the run (createClient): someone
    // else's renames spent the channel's budget. Hold the rename until Discord says the budget is back.
    if (!(error instanceof RateLimitError)) throw error;
    const retryAfterMs = Number.isFinite(error.retryAfter) ? Math.max(error.retryAfter, 0) : RENAME_WINDOW_MS;
    const blockedUntil = Date.now() + retryAfterMs + RENAME_MARGIN_MS;
    store.set(BLOCKED_KEY, blockedUntil);
    holdRename(deps, text, recent, blockedUntil, 'Discord answered 429');
    return;
  }
  // Dated after Discord answered: later than Discord's own record, so our window never opens early.
  saveCounterState(db, {
    taskId,
    renderedText: text,
    pendingText: null,
    renameTimes: [...recent, Date.now()],
  });
  store.delete(BLOCKED_KEY);
  clearHeldTimer(taskId);
  // The one signal that a rename is applied and saved, run or held timer alike (tests wait for it).
  deps.log.info({ taskId, text }, 'counter channel renamed');
}

/** Records `text` as the held rename (latest value wins) and arms the timer that applies it at `opensAt`. */
function holdRename(
  deps: RenameDeps,
  text: string,
  recent: number[],
  opensAt: number,
  reason = 'our record of recent renames',
): void {
  saveCounterState(deps.db, { taskId: deps.taskId, pendingText: text, renameTimes: recent });
  armHeldTimer(deps, text, opensAt);
  deps.log.info(
    { text, opensAt: new Date(opensAt).toISOString(), reason },
    'counter rename held by the rate limit',
  );
}

/**
 * Nothing tells a handler that its task was stopped or cancelled between runs, so a held rename wakes at
 * least this often to check, and drops itself once its task no longer runs.
 */
export const HELD_HALT_CHECK_MS = 15_000;

function armHeldTimer(deps: RenameDeps, text: string, opensAt: number): void {
  const { taskId } = deps;
  clearHeldTimer(taskId);
  const waitMs = Math.min(Math.max(opensAt - Date.now(), 0), HELD_HALT_CHECK_MS);
  const timer = setTimeout(() => void onHeldTimer({ ...deps, signal: undefined }, opensAt, timer), waitMs);
  timer.unref?.();
  heldTimers.set(taskId, { timer, deps, text, opensAt });
}

/** The held rename's timer: drops it if the task halted, waits on if the window is still shut, else applies it. */
async function onHeldTimer(
  deps: RenameDeps,
  opensAt: number,
  timer: ReturnType<typeof setTimeout>,
): Promise<void> {
  const ours = () => heldTimers.get(deps.taskId)?.timer === timer;
  try {
    await renames.run(deps.taskId, async () => {
      // A run re-held (or applied) the rename meanwhile: its timer speaks for it now.
      if (!ours()) return;
      const task = getTaskById(deps.db, deps.taskId);
      const pending = getCounterState(deps.db, deps.taskId)?.pendingText ?? null;
      // Stopped, cancelled or deleted since: the next run (if any) renders afresh.
      if (task?.state !== 'running' || pending === null) {
        dropHeldRename(deps);
        return;
      }
      if (Date.now() < opensAt) {
        armHeldTimer(deps, pending, opensAt);
        return;
      }
      await renameWithinLimit(deps, pending);
    });
  } catch (error) {
    deps.log.warn({ err: error, taskId: deps.taskId }, 'held counter rename failed; the next run retries');
  } finally {
    if (ours()) heldTimers.delete(deps.taskId);
  }
}

/** Forgets a held rename: its timer and counter_state.pendingText. */
function dropHeldRename(deps: RenameDeps): void {
  clearHeldTimer(deps.taskId);
  // A deleted task's rows went with it (and a new row would break its foreign key).
  if (getCounterState(deps.db, deps.taskId)?.pendingText != null) {
    saveCounterState(deps.db, { taskId: deps.taskId, pendingText: null });
  }
}

/** A run aborted by cancel or delete drops its task's held rename now rather than at the next check. */
function dropHeldRenameOnHalt(deps: RenameDeps): void {
  if (getTaskById(deps.db, deps.taskId)?.state === 'running') return; // a timeout: the task runs on
  void renames
    .run(deps.taskId, async () => dropHeldRename(deps))
    .catch((error: unknown) =>
      deps.log.warn({ err: error, taskId: deps.taskId }, 'could not drop a held counter rename'),
    );
}

/** The held rename something will apply: this process's timer for it, with its task still running. */
function liveHeldRename(taskId: number): HeldTimer | undefined {
  const held = heldTimers.get(taskId);
  return held !== undefined && getTaskById(held.deps.db, taskId)?.state === 'running' ? held : undefined;
}

export default defineHandler<CounterOptions>({
  kind: 'counter',
  description: 'Keep a count (members, boosts, a role…) in a channel name or a message',
  options,
  slashOptions: (b) =>
    b
      .addStringOption((o) =>
        o
          .setName('template')
          .setDescription(
            'e.g. "Members: {members}"; also {humans} {bots} {boosts} {channels} {roles} {role:<id>}',
          )
          .setRequired(true)
          .setMaxLength(MAX_CONTENT),
      )
      .addStringOption((o) =>
        o
          .setName('target')
          .setDescription('Rename the channel (default) or keep one message up to date')
          .addChoices({ name: 'channel name', value: 'name' }, { name: 'message', value: 'message' }),
      ),
  // Renaming needs Manage Channels, not Send Messages; the message target posts and edits its own message.
  channelPermissions: ({ target }) => (target === 'name' ? ['ManageChannels'] : ['SendMessages']),
  async run(ctx) {
    const { task, guild, db } = ctx;
    const rendered = await renderCounter(ctx.options.template, guild);
    ctx.signal.throwIfAborted();
    if (ctx.options.target === 'name') {
      const text = rendered.slice(0, MAX_CHANNEL_NAME);
      const deps: RenameDeps = {
        db,
        client: ctx.client,
        store: ctx.store,
        log: ctx.log,
        taskId: task.id,
        channelId: task.channelId,
        signal: ctx.signal,
      };
      const onAbort = () => dropHeldRenameOnHalt(deps);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        await renames.run(task.id, () => renameWithinLimit(deps, text));
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
      }
      return;
    }
    const text = rendered.slice(0, MAX_CONTENT);
    const channel = ctx.channel;
    if (!channel?.isSendable()) {
      throw new Error(`the channel ${task.channelId} no longer exists or cannot take messages`);
    }
    const state = getCounterState(db, task.id);
    const messageId = state?.messageId ?? null;
    // Unchanged and still in the cache (a deletion removes it): nothing to do. After a restart the cache is
    // empty, so the first run edits once, which also finds out whether the message still exists.
    if (messageId !== null && text === state?.renderedText && channel.messages.cache.has(messageId)) return;
    if (messageId !== null) {
      try {
        await channel.messages.edit(messageId, { content: text, allowedMentions: { parse: [] } });
        saveCounterState(db, { taskId: task.id, renderedText: text });
        return;
      } catch (error) {
        if (!(error instanceof DiscordAPIError && error.code === RESTJSONErrorCodes.UnknownMessage))
          throw error;
        ctx.log.info({ messageId }, 'counter message was deleted; posting a new one');
      }
    }
    const posted = await ctx.send({ content: text });
    saveCounterState(db, { taskId: task.id, messageId: posted.id, renderedText: text });
  },
  setup() {
    return () => {
      for (const taskId of [...heldTimers.keys()]) clearHeldTimer(taskId);
    };
  },
  status(task) {
    // Stopped, cancelled, or a restart since: no timer will apply it, and the next run renders afresh.
    const held = liveHeldRename(task.id);
    if (!held) return undefined;
    return (
      `A rename to “${held.text}” is waiting for Discord's limit (${RENAME_LIMIT} per 10 minutes) ` +
      `until <t:${Math.ceil(held.opensAt / 1_000)}:T>.`
    );
  },
});
