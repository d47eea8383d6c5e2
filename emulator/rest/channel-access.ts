// What the bot may do in a channel, as Discord decides it: view first (Missing Access), then the
// permission bits (Missing Permissions), then what a thread's state or a forum's nature refuses.
import { ChannelType, PermissionFlagsBits, RESTJSONErrorCodes } from 'discord-api-types/v10';
import { type ChannelRecord, isThread, POST_ONLY_TYPES } from '../channel-wire.js';
import { HttpError, missingAccess, missingPermissions } from '../errors.js';
import { has } from '../permissions.js';
import type { World } from '../world.js';

export interface ChannelAccess {
  channel: ChannelRecord;
  permissions: bigint;
}

/** The bot's permissions in a channel: Missing Access without View Channel, else Missing Permissions. */
export function requireInChannel(world: World, channelId: string, ...bits: bigint[]): ChannelAccess {
  const channel = world.channel(channelId);
  const guild = world.guild(channel.guildId);
  if (!guild.members.has(world.botUser.id)) throw missingAccess();
  const permissions = world.permissionsOf(guild.id, world.botUser.id, channel.id);
  if (!has(permissions, PermissionFlagsBits.ViewChannel)) throw missingAccess();
  for (const bit of bits) if (!has(permissions, bit)) throw missingPermissions();
  return { channel, permissions };
}

/**
 * Whether the bot may post a message in the channel (POST messages, typing): Send Messages, or Send
 * Messages in Threads in a thread; never in a forum, media channel or category; a locked thread only with
 * Manage Threads. An archived thread that is not locked is reopened by the post (World.createMessage).
 */
export function requirePostable(world: World, channelId: string): ChannelAccess {
  const channel = world.channel(channelId);
  const threaded = isThread(channel);
  const access = requireInChannel(
    world,
    channelId,
    threaded ? PermissionFlagsBits.SendMessagesInThreads : PermissionFlagsBits.SendMessages,
  );
  if (channel.type === ChannelType.GuildCategory || POST_ONLY_TYPES.has(channel.type)) {
    throw new HttpError(
      400,
      RESTJSONErrorCodes.CannotSendMessagesInNonTextChannel,
      'Cannot send messages in a non-text channel',
    );
  }
  if (
    isThread(channel) &&
    channel.thread.locked &&
    !has(access.permissions, PermissionFlagsBits.ManageThreads)
  ) {
    throw channel.thread.archived
      ? new HttpError(403, RESTJSONErrorCodes.InvalidActionOnArchivedThread, 'Thread is archived')
      : new HttpError(403, RESTJSONErrorCodes.ThreadLocked, 'Thread is locked');
  }
  return access;
}
