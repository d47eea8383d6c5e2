// counter: renders a template such as "Members: {members}" into the task channel's name, or into one
// message the bot posts once and then edits. Renames keep within Discord's limit (counter/renames.ts); the
// counts come from the server's member count and, for {humans}, {bots} and {role:<id>}, from a member list
// fetched when such a counter runs (counter/members.ts), not from a cache of every member.
//
// Exact counts need the GuildMembers privileged intent, which Metronome asks for: Discord sends the member
// list only with it.
import { ChannelType, DiscordAPIError, type Guild, RESTJSONErrorCodes } from 'discord.js';
import { z } from 'zod';
import { getCounterState, saveCounterState } from '../../db/index.js';
import { defineHandler } from '../define.js';
import { MemberCounts } from './counter/members.js';
import { HeldRenames, RENAME_LIMIT, renameFromRun } from './counter/renames.js';

export { MEMBER_LIST_REUSE_MS } from './counter/members.js';
export { HELD_HALT_CHECK_MS, RENAME_LIMIT, RENAME_WINDOW_MS } from './counter/renames.js';

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

/** One bot's counter state: its held renames and their timers, and its recent member counts. */
export class CounterState {
  readonly renames = new HeldRenames();
  readonly members = new MemberCounts();

  /** The bot is stopping: no held rename of its fires, and nothing it counted is kept. */
  clear(): void {
    this.renames.clearAll();
    this.members.clear();
  }
}

/**
 * The template with its placeholders replaced by the server's counts. Members are fetched from Discord only
 * for a template that counts them by kind or role.
 */
export async function renderCounter(template: string, guild: Guild, members: MemberCounts): Promise<string> {
  const placeholders = [...template.matchAll(PLACEHOLDER)].map((match) => match[1]!);
  // Only roles that exist: a deleted role counts 0, as Role#members would (it is gone from the cache).
  const roleIds = new Set(
    placeholders
      .map((name) => ROLE_PLACEHOLDER.exec(name)?.[1])
      .filter((id): id is string => id !== undefined && id !== guild.id && guild.roles.cache.has(id)),
  );
  const everyone = placeholders.includes(`role:${guild.id}`);
  const needsList =
    everyone || roleIds.size > 0 || placeholders.some((name) => name === 'humans' || name === 'bots');
  const tally = needsList ? await members.tally(guild) : { humans: 0, bots: 0, roles: new Map() };
  const counts: Record<CountName, number> = {
    members: placeholders.includes('members') ? await members.memberCount(guild) : 0,
    humans: tally.humans,
    bots: tally.bots,
    boosts: guild.premiumSubscriptionCount ?? 0,
    channels: guild.channels.cache.filter(
      (channel) => channel.type !== ChannelType.GuildCategory && !channel.isThread(),
    ).size,
    // Without @everyone, which every guild has and nobody counts.
    roles: guild.roles.cache.size - 1,
  };
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    const role = ROLE_PLACEHOLDER.exec(name);
    // The @everyone role's id is the guild's: every member has it.
    if (role) {
      if (role[1] === guild.id) return String(tally.humans + tally.bots);
      return String(roleIds.has(role[1]!) ? (tally.roles.get(role[1]!) ?? 0) : 0);
    }
    return (COUNTS as readonly string[]).includes(name) ? String(counts[name as CountName]) : whole;
  });
}

export default defineHandler<CounterOptions, CounterState>({
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
  createState: () => new CounterState(),
  async run(ctx) {
    const { task, guild, db, state } = ctx;
    const rendered = await renderCounter(ctx.options.template, guild, state.members);
    ctx.signal.throwIfAborted();
    if (ctx.options.target === 'name') {
      const text = rendered.slice(0, MAX_CHANNEL_NAME);
      await renameFromRun(
        {
          renames: state.renames,
          tasks: ctx.tasks,
          db,
          client: ctx.client,
          store: ctx.store,
          log: ctx.log,
          taskId: task.id,
          channelId: task.channelId,
          signal: ctx.signal,
        },
        text,
      );
      return;
    }
    const text = rendered.slice(0, MAX_CONTENT);
    const channel = ctx.channel;
    if (!channel?.isSendable()) {
      throw new Error(`the channel ${task.channelId} no longer exists or cannot take messages`);
    }
    const saved = getCounterState(db, task.id);
    const messageId = saved?.messageId ?? null;
    // Unchanged and still in the cache (a deletion removes it): nothing to do. After a restart the cache is
    // empty, so the first run edits once, which also finds out whether the message still exists.
    if (messageId !== null && text === saved?.renderedText && channel.messages.cache.has(messageId)) return;
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
  setup({ state }) {
    return () => state.clear();
  },
  status(task, _store, state) {
    // Stopped, cancelled, or a restart since: no timer will apply it, and the next run renders afresh.
    const held = state.renames.live(task.id);
    if (!held) return undefined;
    return (
      `A rename to “${held.text}” is waiting for Discord's limit (${RENAME_LIMIT} per 10 minutes) ` +
      `until <t:${Math.ceil(held.opensAt / 1_000)}:T>.`
    );
  },
});
