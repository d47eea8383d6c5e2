// Before creating a task, check the bot can do its job in the chosen channel, so the admin hears about a
// missing permission now rather than from a failed run later. Each handler declares what it needs, in a
// text channel's terms; a thread or a forum asks for the same thing under its own permission's name.
import {
  type APIChannel,
  ChannelType,
  type Client,
  DiscordAPIError,
  type Guild,
  type GuildBasedChannel,
  PermissionFlagsBits,
  type PermissionsString,
  RESTJSONErrorCodes,
  Routes,
} from 'discord.js';
import { type Handler, TASK_CHANNEL_TYPES, type TaskChannelType } from '../handlers/define.js';
import { ELSEWHERE, findGuildChannel, lookUpTaskChannel } from '../handlers/executor.js';

// Defined with the handler contract (a handler may name them all); re-exported for the commands.
export { TASK_CHANNEL_TYPES, type TaskChannelType } from '../handlers/define.js';

/** Where a handler's `ctx.send` can post: text-based channels, threads included; a forum takes no message. */
const POSTING_CHANNEL_TYPES: readonly TaskChannelType[] = TASK_CHANNEL_TYPES.filter(
  (type) => type !== ChannelType.GuildForum && type !== ChannelType.GuildMedia,
);

/** A thread is edited under Manage Threads, not Manage Channels: a kind that edits its channel is kept out. */
const CHANNEL_EDITING_TYPES: readonly TaskChannelType[] = [
  ChannelType.GuildText,
  ChannelType.GuildAnnouncement,
  ChannelType.GuildVoice,
];

/** What a task of one kind asks of its channel: the channel types it works in and its permissions. */
export interface ChannelNeeds {
  kind: string;
  channelTypes: readonly TaskChannelType[];
  /** In a text channel's terms; a thread or forum translates them (see permissionsIn). */
  permissions: readonly PermissionsString[];
}

const DEFAULT_NEEDS: readonly PermissionsString[] = ['ViewChannel', 'SendMessages'];

/** What a task of this handler needs of its channel: View Channel always, then what the handler declares. */
export function neededChannelPermissions<Options>(
  handler: Handler<Options>,
  options: Options,
  guild: Guild,
): ChannelNeeds {
  const declared = handler.channelPermissions?.(options, guild) ?? DEFAULT_NEEDS;
  const permissions = [...new Set<PermissionsString>(['ViewChannel', ...declared])];
  const declaredTypes = handler.channelTypes?.(options);
  const channelTypes = declaredTypes
    ? TASK_CHANNEL_TYPES.filter((type) => declaredTypes.includes(type))
    : permissions.includes('ManageChannels')
      ? CHANNEL_EDITING_TYPES
      : POSTING_CHANNEL_TYPES;
  return { kind: handler.kind, channelTypes, permissions };
}

/** A permission a task needs, with the name Discord's settings give it in that kind of channel. */
interface Need {
  bit: bigint;
  label: string;
}

/**
 * The needs in the channel's own terms: in a thread, posting is Send Messages in Threads and editing is
 * Manage Threads; in a forum (or media channel), posting opens a post, which Discord's settings call Create
 * Posts (the Send Messages bit on a forum).
 */
function permissionsIn(channel: GuildBasedChannel, permissions: readonly PermissionsString[]): Need[] {
  return permissions.map((permission) => {
    if (channel.isThread() && permission === 'SendMessages') {
      // A forum's channel settings call the same bit Send Messages in Posts.
      const inPost =
        channel.parent?.type === ChannelType.GuildForum || channel.parent?.type === ChannelType.GuildMedia;
      return {
        bit: PermissionFlagsBits.SendMessagesInThreads,
        label: inPost ? 'Send Messages in Posts' : 'Send Messages in Threads',
      };
    }
    if (channel.isThread() && permission === 'ManageChannels') {
      return { bit: PermissionFlagsBits.ManageThreads, label: 'Manage Threads' };
    }
    const postOnly = channel.type === ChannelType.GuildForum || channel.type === ChannelType.GuildMedia;
    if (postOnly && permission === 'SendMessages') {
      return { bit: PermissionFlagsBits.SendMessages, label: 'Create Posts' };
    }
    return { bit: PermissionFlagsBits[permission], label: permissionLabel(permission) };
  });
}

/** `ManageChannels` → `Manage Channels`, as Discord's settings name it. */
function permissionLabel(permission: PermissionsString): string {
  return permission.replace(/(?<=[a-z])(?=[A-Z])/g, ' ');
}

const CHANNEL_TYPE_NAMES: Partial<Record<ChannelType, string>> = {
  [ChannelType.GuildText]: 'a text channel',
  [ChannelType.GuildAnnouncement]: 'an announcement channel',
  [ChannelType.GuildVoice]: 'a voice channel',
  [ChannelType.AnnouncementThread]: 'a thread',
  [ChannelType.PublicThread]: 'a thread',
  [ChannelType.PrivateThread]: 'a private thread',
  [ChannelType.GuildForum]: 'a forum',
  [ChannelType.GuildMedia]: 'a media channel',
  [ChannelType.GuildStageVoice]: 'a stage channel',
  [ChannelType.GuildCategory]: 'a category',
};

/** "a text channel, a voice channel or a thread", from the types a kind accepts. */
function describeChannelTypes(types: readonly ChannelType[]): string {
  const names = [
    ...new Set(
      types.map((type) =>
        type === ChannelType.PrivateThread ? 'a thread' : (CHANNEL_TYPE_NAMES[type] ?? 'a channel'),
      ),
    ),
  ];
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/**
 * Why the bot can't post in this thread whatever its role permissions: a private thread it was never
 * added to, or a locked one without Manage Threads. An archived thread that is not locked is fine: the
 * first post reopens it, as Discord does for anyone who may post there.
 */
function threadRefusal(channel: GuildBasedChannel, channelId: string): string | undefined {
  if (!channel.isThread()) return undefined;
  if (channel.type === ChannelType.PrivateThread && !channel.joined && !channel.manageable) {
    return `I'm not in the private thread <#${channelId}>; add me to it (mention me there) or pick another channel.`;
  }
  if (channel.locked && !channel.manageable) {
    return `<#${channelId}> is locked, so I can't post there; unlock it or give me the **Manage Threads** permission.`;
  }
  return undefined;
}

/**
 * Whether `channelId` is a channel of another server than `guild`. Discord's own clients never offer one,
 * but a forged interaction can name any channel, and a task must never post outside its server.
 */
export function isOtherServersChannel(guild: Guild, channelId: string): boolean {
  return findGuildChannel(guild.client, guild, channelId) === ELSEWHERE;
}

/** The refusal for a channel of another server named in `/task create`. */
export function notThisServersChannel(channelId: string): string {
  return `<#${channelId}> is not a channel of this server; pick one of this server's channels.`;
}

/**
 * One sentence naming every missing permission (or refusing a channel of another server), or undefined
 * when the bot has them all.
 */
export async function missingChannelPermission(
  guild: Guild,
  channelId: string,
  needs: ChannelNeeds,
): Promise<string | undefined> {
  const channel = await lookUpTaskChannel(guild.client, guild, channelId);
  if (channel === ELSEWHERE) return notThisServersChannel(channelId);
  if (!channel) return `I can't see <#${channelId}>; pick a channel I can view.`;
  if (!(needs.channelTypes as readonly ChannelType[]).includes(channel.type)) {
    return (
      `A ${needs.kind} task can't work in <#${channelId}>, ${CHANNEL_TYPE_NAMES[channel.type] ?? 'a channel of that type'}; ` +
      `pick ${describeChannelTypes(needs.channelTypes)}.`
    );
  }
  const me = guild.members.me ?? (await guild.members.fetchMe());
  const permissions = channel.permissionsFor(me);
  const missing = permissionsIn(channel, needs.permissions).filter((need) => !permissions.has(need.bit));
  if (missing.length > 0) {
    const names = [...new Set(missing.map((need) => `**${need.label}**`))].join(' and ');
    return `I can't work in <#${channelId}>: I need the ${names} permission${missing.length > 1 ? 's' : ''} there.`;
  }
  return threadRefusal(channel, channelId) ?? discordPlacesChannel(guild, channelId);
}

/**
 * Channels Discord has placed in a server, per client: a channel never moves to another server, so one
 * answer per channel is enough. Without it every create paid a request, and a burst of creates queued
 * behind Discord's global limit of 50 requests/s (npm run bench -- commands: ack p50 1.5 s instead of 1 ms).
 */
const placedChannels = new WeakMap<Client, Map<string, string>>();
const MAX_PLACED_CHANNELS = 10_000;

/**
 * Discord's own word on where the channel is. The cache alone can be fooled: a channel the gateway never
 * announced (another server's, while that server is unavailable) is made up by discord.js from the
 * interaction itself, filed under the interaction's server. One request, at create only.
 */
async function discordPlacesChannel(guild: Guild, channelId: string): Promise<string | undefined> {
  let placed = placedChannels.get(guild.client);
  if (placed === undefined) {
    placed = new Map();
    placedChannels.set(guild.client, placed);
  }
  if (placed.get(channelId) === guild.id) return undefined;
  let channel: APIChannel;
  try {
    channel = (await guild.client.rest.get(Routes.channel(channelId))) as APIChannel;
  } catch (error) {
    const unseen = [RESTJSONErrorCodes.UnknownChannel, RESTJSONErrorCodes.MissingAccess] as const;
    if (error instanceof DiscordAPIError && unseen.some((code) => code === error.code)) {
      return `I can't see <#${channelId}>; pick a channel I can view.`;
    }
    throw error;
  }
  if (!('guild_id' in channel) || channel.guild_id !== guild.id) return notThisServersChannel(channelId);
  if (placed.size >= MAX_PLACED_CHANNELS) placed.clear();
  placed.set(channelId, guild.id);
  return undefined;
}
