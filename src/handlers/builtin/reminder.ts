// reminder: posts a message on the task's schedule, optionally mentioning one role or inside an embed.
// Pings are exactly what the admin chose: the chosen role, or @everyone if that is the role they picked;
// an "@everyone" or "<@&id>" typed into the text never pings. Creating one that pings @everyone or a role
// that is not mentionable asks for Mention Everyone, without which Discord would drop the ping.
// In a thread it posts like anywhere else; in a forum or media channel each run opens a new post named by
// the title.
import {
  type APIEmbed,
  ChannelType,
  type ForumChannel,
  type Guild,
  type MediaChannel,
  type Message,
  type MessageCreateOptions,
  type PermissionsString,
} from 'discord.js';
import { z } from 'zod';
import { defineHandler, type HandlerContext, TASK_CHANNEL_TYPES } from '../define.js';

const MAX_CONTENT = 2_000;
const SNOWFLAKE = /^\d{17,20}$/;

const options = z
  .object({
    message: z.string().trim().min(1, 'the message is empty').max(MAX_CONTENT),
    /** A role id; the guild's id stands for @everyone (that is how Discord names the @everyone role). */
    role: z.string().regex(SNOWFLAKE, 'role must be a role id').optional(),
    title: z.string().trim().min(1).max(256).optional(),
    color: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/, 'color must look like #5865f2')
      .optional(),
  })
  .superRefine((value, ctx) => {
    // Without an embed the mention shares the 2,000 characters of the content.
    const inContent = value.title === undefined && value.color === undefined;
    if (
      inContent &&
      value.role !== undefined &&
      value.message.length + mentionFor(value.role).length + 1 > MAX_CONTENT
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['message'],
        message: `with a role mention the message can be at most ${MAX_CONTENT - mentionFor(value.role).length - 1} characters`,
      });
    }
  });

type ReminderOptions = z.infer<typeof options>;

/**
 * Discord drops a ping of @everyone, or of a role that is not mentionable, unless the sender has Mention
 * Everyone: without it the reminder would post and silently ping nobody.
 */
function pingNeedsMentionEveryone(roleId: string, guild: Guild): boolean {
  if (roleId === guild.id) return true;
  return guild.roles.cache.get(roleId)?.mentionable === false;
}

/** The mention text for a role; its length is the same whether or not the role is @everyone's at parse time. */
function mentionFor(roleId: string): string {
  return `<@&${roleId}>`;
}

/** Discord's limit on a thread's (a forum post's) name. */
const MAX_POST_TITLE = 100;

/** A forum post's name: the reminder's title, or else its first line, cut to Discord's 100 characters. */
export function forumPostTitle({ title, message }: Pick<ReminderOptions, 'title' | 'message'>): string {
  const name = (title ?? message.split('\n')[0]!).trim();
  return name.length <= MAX_POST_TITLE ? name : `${name.slice(0, MAX_POST_TITLE - 1).trimEnd()}…`;
}

/** What a run posts: the text (after the mention) or an embed, pinging only the chosen role. */
function reminderBody(
  { message, role, title, color }: ReminderOptions,
  guild: Guild,
): Pick<MessageCreateOptions, 'content' | 'embeds' | 'allowedMentions'> {
  const everyone = role !== undefined && role === guild.id;
  const mention = role === undefined ? undefined : everyone ? '@everyone' : mentionFor(role);
  const allowedMentions: MessageCreateOptions['allowedMentions'] =
    role === undefined ? { parse: [] } : everyone ? { parse: ['everyone'] } : { parse: [], roles: [role] };
  if (title === undefined && color === undefined) {
    return { content: mention ? `${mention} ${message}` : message, allowedMentions };
  }
  const embed: APIEmbed = { description: message };
  if (title !== undefined) embed.title = title;
  if (color !== undefined) embed.color = Number.parseInt(color.slice(1), 16);
  return { ...(mention ? { content: mention } : {}), embeds: [embed], allowedMentions };
}

/** The task's latest forum post attempt, in its handler store: which slot (nonce), and the post once opened. */
interface ForumPostNote {
  nonce: string;
  threadId?: string;
}

const FORUM_POST_KEY = 'forumPost';

/**
 * Opens this run's forum post once per slot. Discord documents no nonce for a post's first message, so the
 * attempt is noted before the request and the post after it. A slot run again (a retry, a replay after a
 * crash) that finds its note without a post asks Discord whether the post exists: one the bot opened in this
 * forum since the slot's time, with this name and this first message. Only the same reminder, twice in one
 * forum in the same slot, could be mistaken for it, and it would look the same.
 */
async function openForumPost(
  ctx: HandlerContext<ReminderOptions>,
  forum: ForumChannel | MediaChannel,
  body: ReturnType<typeof reminderBody>,
): Promise<void> {
  const name = forumPostTitle(ctx.options);
  const note = ctx.store.get<ForumPostNote>(FORUM_POST_KEY);
  if (note?.nonce === ctx.nonce) {
    if (note.threadId !== undefined) return;
    const opened = await findSlotPost(ctx, forum, name, body);
    if (opened !== undefined) {
      ctx.log.info({ threadId: opened }, 'forum post of this slot already opened; not posting again');
      ctx.store.set(FORUM_POST_KEY, { nonce: ctx.nonce, threadId: opened } satisfies ForumPostNote);
      return;
    }
  }
  ctx.store.set(FORUM_POST_KEY, { nonce: ctx.nonce } satisfies ForumPostNote);
  const post = await forum.threads.create({ name, message: body });
  ctx.store.set(FORUM_POST_KEY, { nonce: ctx.nonce, threadId: post.id } satisfies ForumPostNote);
}

/** The id of a post this slot already opened in the forum, if Discord has one. */
async function findSlotPost(
  ctx: HandlerContext<ReminderOptions>,
  forum: ForumChannel | MediaChannel,
  name: string,
  body: ReturnType<typeof reminderBody>,
): Promise<string | undefined> {
  const { threads } = await forum.threads.fetchActive(false);
  for (const thread of threads.values()) {
    if (thread.ownerId !== ctx.client.user.id || thread.name !== name) continue;
    if ((thread.createdTimestamp ?? 0) < ctx.scheduledAt.getTime()) continue;
    const starter = await thread.fetchStarterMessage().catch(() => null);
    if (starter && samePost(starter, body)) return thread.id;
  }
  return undefined;
}

function samePost(starter: Message, body: ReturnType<typeof reminderBody>): boolean {
  return (
    starter.content === (body.content ?? '') &&
    starter.embeds[0]?.description === (body.embeds?.[0] as APIEmbed | undefined)?.description
  );
}

export default defineHandler<ReminderOptions>({
  kind: 'reminder',
  description: 'Post a message on a schedule, optionally mentioning a role',
  options,
  slashOptions: (b) =>
    b
      .addStringOption((o) =>
        o.setName('message').setDescription('What to post').setRequired(true).setMaxLength(MAX_CONTENT),
      )
      .addRoleOption((o) => o.setName('role').setDescription('A role to mention (only this role is pinged)'))
      .addStringOption((o) =>
        o.setName('title').setDescription('Post as an embed with this title').setMaxLength(256),
      )
      .addStringOption((o) =>
        o.setName('color').setDescription('Embed colour, e.g. #5865f2').setMinLength(7).setMaxLength(7),
      ),
  channelPermissions: ({ role, title, color }, guild) => {
    const needs: PermissionsString[] = ['SendMessages'];
    if (title !== undefined || color !== undefined) needs.push('EmbedLinks');
    if (role !== undefined && pingNeedsMentionEveryone(role, guild)) needs.push('MentionEveryone');
    return needs;
  },
  // Every channel a task may have: posts in threads, opens posts in a forum.
  channelTypes: () => TASK_CHANNEL_TYPES,
  async run(ctx) {
    const body = reminderBody(ctx.options, ctx.guild);
    const channel = ctx.channel;
    if (channel?.type === ChannelType.GuildForum || channel?.type === ChannelType.GuildMedia) {
      await openForumPost(ctx, channel, body);
      return;
    }
    // Said plainly, where Discord would answer "Thread is archived" for a thread that is locked.
    if (channel?.isThread() && channel.locked && !channel.manageable) {
      throw new Error(
        `the thread #${channel.name} (${channel.id}) is locked; unlock it or give the bot Manage Threads`,
      );
    }
    await ctx.send(body);
  },
});
