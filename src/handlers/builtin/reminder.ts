// reminder: posts a message on the task's schedule, optionally mentioning one role or inside an embed.
// Pings are exactly what the admin chose: the chosen role, or @everyone if that is the role they picked;
// an "@everyone" or "<@&id>" typed into the text never pings. Creating one that pings @everyone or a role
// that is not mentionable asks for Mention Everyone, without which Discord would drop the ping.
import type { APIEmbed, Guild, MessageCreateOptions, PermissionsString } from 'discord.js';
import { z } from 'zod';
import { defineHandler } from '../define.js';

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
  async run(ctx) {
    const { message, role, title, color } = ctx.options;
    const everyone = role !== undefined && role === ctx.guild.id;
    const mention = role === undefined ? undefined : everyone ? '@everyone' : mentionFor(role);
    const allowedMentions: MessageCreateOptions['allowedMentions'] =
      role === undefined ? { parse: [] } : everyone ? { parse: ['everyone'] } : { parse: [], roles: [role] };
    if (title === undefined && color === undefined) {
      await ctx.send({ content: mention ? `${mention} ${message}` : message, allowedMentions });
      return;
    }
    const embed: APIEmbed = { description: message };
    if (title !== undefined) embed.title = title;
    if (color !== undefined) embed.color = Number.parseInt(color.slice(1), 16);
    await ctx.send({ ...(mention ? { content: mention } : {}), embeds: [embed], allowedMentions });
  },
});
