// counter: renders a template such as "Members: {members}" from the gateway cache into the task channel's
// name, or into one message the bot posts once and then edits.
//
// Channel renames are limited by Discord to 2 per 10 minutes per channel, and a 429 for that sublimit can
// hold the request for minutes. So the counter keeps its own record of recent renames (counter_state)
// and never sends a rename the window would refuse: a change that arrives with the window full is held
// (latest value wins) and applied by a timer when the window opens, or by the next run if that is sooner.
//
// Exact counts need the GuildMembers privileged intent: {members} is Discord's member count either way, but
// {humans}, {bots} and {role:<id>} count the member cache, which is complete only with that intent.
import { ChannelType, type Client, DiscordAPIError, type Guild, RESTJSONErrorCodes } from 'discord.js';
import { z } from 'zod';
import { type Db, getCounterState, getTaskById, saveCounterState } from '../../db/index.js';
import type { Logger } from '../../log.js';
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

/** What `status()` reads: the held rename, mirrored into the handler store while it waits. */
interface HeldRename {
  text: string;
  /** When the rename window opens for it (ms). */
  opensAt: number;
}
const HELD_KEY = 'heldRename';

/** The template with its placeholders replaced by counts from the gateway cache. */
export function renderCounter(template: string, guild: Guild): string {
  const humans = guild.members.cache.filter((member) => !member.user.bot).size;
  const counts: Record<CountName, number> = {
    members: guild.memberCount,
    humans,
    bots: guild.members.cache.size - humans,
    boosts: guild.premiumSubscriptionCount ?? 0,
    channels: guild.channels.cache.filter(
      (channel) => channel.type !== ChannelType.GuildCategory && !channel.isThread(),
    ).size,
    // Without @everyone, which every guild has and nobody counts.
    roles: guild.roles.cache.size - 1,
  };
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    const role = ROLE_PLACEHOLDER.exec(name);
    if (role) return String(guild.roles.cache.get(role[1]!)?.members.size ?? 0);
    return (COUNTS as readonly string[]).includes(name) ? String(counts[name as CountName]) : whole;
  });
}

// One rename at a time per task (a run and a held-rename timer may meet), and the timers to clear.
const locks = new Map<number, Promise<unknown>>();
const heldTimers = new Map<number, ReturnType<typeof setTimeout>>();

function exclusive<T>(taskId: number, fn: () => Promise<T>): Promise<T> {
  const result = (locks.get(taskId) ?? Promise.resolve()).then(fn);
  const tail = result.catch(() => {});
  locks.set(taskId, tail);
  void tail.then(() => {
    if (locks.get(taskId) === tail) locks.delete(taskId);
  });
  return result;
}

function clearHeldTimer(taskId: number): void {
  clearTimeout(heldTimers.get(taskId));
  heldTimers.delete(taskId);
}

interface RenameDeps {
  db: Db;
  client: Client;
  store: HandlerStore;
  log: Logger;
  taskId: number;
  channelId: string;
}

/** Renames the channel to `text` if it changed and the window allows; otherwise holds it for later. */
async function renameWithinLimit(deps: RenameDeps, text: string): Promise<void> {
  const { db, client, store, log, taskId, channelId } = deps;
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
      store.delete(HELD_KEY);
      clearHeldTimer(taskId);
    }
    return;
  }
  if (recent.length >= RENAME_LIMIT) {
    const opensAt = recent[recent.length - RENAME_LIMIT]! + RENAME_WINDOW_MS + RENAME_MARGIN_MS;
    saveCounterState(db, { taskId, pendingText: text, renameTimes: recent });
    store.set(HELD_KEY, { text, opensAt } satisfies HeldRename);
    clearHeldTimer(taskId);
    const timer = setTimeout(() => void applyHeld(deps), opensAt - now);
    timer.unref?.();
    heldTimers.set(taskId, timer);
    log.info({ text, opensAt: new Date(opensAt).toISOString() }, 'counter rename held by the rate limit');
    return;
  }
  const channel = client.channels.cache.get(channelId);
  if (!channel || channel.isDMBased() || channel.isThread()) {
    throw new Error(`the channel ${channelId} no longer exists or the bot cannot see it`);
  }
  await channel.setName(text, 'Metronome counter');
  // Dated after Discord answered: later than Discord's own record, so our window never opens early.
  saveCounterState(db, {
    taskId,
    renderedText: text,
    pendingText: null,
    renameTimes: [...recent, Date.now()],
  });
  store.delete(HELD_KEY);
  clearHeldTimer(taskId);
}

/** The timer of a held rename: applies the latest held text if the task still runs. */
async function applyHeld(deps: RenameDeps): Promise<void> {
  heldTimers.delete(deps.taskId);
  try {
    await exclusive(deps.taskId, async () => {
      const task = getTaskById(deps.db, deps.taskId);
      const pending = getCounterState(deps.db, deps.taskId)?.pendingText ?? null;
      // Stopped, cancelled or deleted since: the next run (if any) renders afresh.
      if (task?.state !== 'running' || pending === null) return;
      await renameWithinLimit(deps, pending);
    });
  } catch (error) {
    deps.log.warn({ err: error, taskId: deps.taskId }, 'held counter rename failed; the next run retries');
  }
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
    const rendered = renderCounter(ctx.options.template, guild);
    if (ctx.options.target === 'name') {
      const text = rendered.slice(0, MAX_CHANNEL_NAME);
      const deps = {
        db,
        client: ctx.client,
        store: ctx.store,
        log: ctx.log,
        taskId: task.id,
        channelId: task.channelId,
      };
      await exclusive(task.id, () => renameWithinLimit(deps, text));
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
  status(_task, store) {
    const held = store.get<HeldRename>(HELD_KEY);
    if (!held) return undefined;
    return (
      `A rename to “${held.text}” is waiting for Discord's limit (${RENAME_LIMIT} per 10 minutes) ` +
      `until <t:${Math.ceil(held.opensAt / 1_000)}:T>.`
    );
  },
});
