// Before creating a task, check the bot can do its job in the chosen channel, so the admin hears about a
// missing permission now rather than from a failed run later. Each handler declares what it needs.
import {
  type APIChannel,
  ChannelType,
  type Client,
  DiscordAPIError,
  type Guild,
  PermissionFlagsBits,
  type PermissionsString,
  RESTJSONErrorCodes,
  Routes,
} from 'discord.js';
import type { Handler } from '../handlers/define.js';
import { ELSEWHERE, findGuildChannel } from '../handlers/executor.js';

/** The channels a task may be given (the `channel` option of create and edit). */
export const TASK_CHANNEL_TYPES = [
  ChannelType.GuildText,
  ChannelType.GuildAnnouncement,
  ChannelType.GuildVoice,
] as const;

const DEFAULT_NEEDS: readonly PermissionsString[] = ['ViewChannel', 'SendMessages'];

/** What a task of this handler needs in its channel: View Channel always, then what the handler declares. */
export function neededChannelPermissions<Options>(
  handler: Handler<Options>,
  options: Options,
  guild: Guild,
): PermissionsString[] {
  const declared = handler.channelPermissions?.(options, guild) ?? DEFAULT_NEEDS;
  return [...new Set<PermissionsString>(['ViewChannel', ...declared])];
}

/** `ManageChannels` → `Manage Channels`, as Discord's settings name it. */
function permissionLabel(permission: PermissionsString): string {
  return permission.replace(/(?<=[a-z])(?=[A-Z])/g, ' ');
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
  needed: readonly PermissionsString[],
): Promise<string | undefined> {
  const channel = findGuildChannel(guild.client, guild, channelId);
  if (channel === ELSEWHERE) return notThisServersChannel(channelId);
  if (!channel) return `I can't see <#${channelId}>; pick a channel I can view.`;
  const me = guild.members.me ?? (await guild.members.fetchMe());
  const permissions = channel.permissionsFor(me);
  const missing = needed.filter((need) => !permissions.has(PermissionFlagsBits[need]));
  if (missing.length === 0) return discordPlacesChannel(guild, channelId);
  const names = missing.map((need) => `**${permissionLabel(need)}**`).join(' and ');
  return `I can't work in <#${channelId}>: I need the ${names} permission${missing.length > 1 ? 's' : ''} there.`;
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
