// Channel records as Discord sends them: one shape per channel type (text, voice, category, announcement,
// forum, media, and the three thread types). Pure functions of the record; the World owns the records.
import {
  type APIChannel,
  type APIThreadChannel,
  type APIThreadMember,
  type ChannelFlags,
  ChannelType,
  ForumLayoutType,
  OverwriteType,
  type ThreadAutoArchiveDuration,
  type ThreadMemberFlags,
} from 'discord-api-types/v10';
import type { OverwriteBits } from './permissions.js';

export type ThreadChannelType =
  | ChannelType.AnnouncementThread
  | ChannelType.PublicThread
  | ChannelType.PrivateThread;

export type WorldChannelType =
  | ChannelType.GuildText
  | ChannelType.GuildVoice
  | ChannelType.GuildCategory
  | ChannelType.GuildAnnouncement
  | ChannelType.GuildForum
  | ChannelType.GuildMedia
  | ThreadChannelType;

/** What only a thread has: its owner, its members and whether it is archived or locked. */
export interface ThreadState {
  ownerId: string;
  archived: boolean;
  locked: boolean;
  autoArchiveMinutes: ThreadAutoArchiveDuration;
  /** When `archived` last changed (Discord's archive_timestamp), ms. */
  archiveChangedAtMs: number;
  createdAtMs: number;
  /** Joined members: user id → join time (ms). */
  members: Map<string, number>;
  /** Private threads only: whether non-moderators may add others. */
  invitable: boolean;
  messageCount: number;
}

export interface ChannelRecord {
  id: string;
  guildId: string;
  type: WorldChannelType;
  name: string;
  topic: string | null;
  /** A category for channels; the text, announcement or forum channel for a thread. */
  parentId: string | null;
  position: number;
  overwrites: OverwriteBits[];
  lastMessageId: string | null;
  thread: ThreadState | null;
}

export const THREAD_TYPES: ReadonlySet<ChannelType> = new Set([
  ChannelType.AnnouncementThread,
  ChannelType.PublicThread,
  ChannelType.PrivateThread,
]);

/** Forum and media channels hold posts (threads), never messages of their own. */
export const POST_ONLY_TYPES: ReadonlySet<ChannelType> = new Set([
  ChannelType.GuildForum,
  ChannelType.GuildMedia,
]);

export function isThread(channel: ChannelRecord): channel is ChannelRecord & { thread: ThreadState } {
  return channel.thread !== null && THREAD_TYPES.has(channel.type);
}

/** The thread member object of `userId`, as in a thread payload's `member` and the thread list's `members`. */
export function apiThreadMember(threadId: string, userId: string, joinedAtMs: number): APIThreadMember {
  return {
    id: threadId,
    user_id: userId,
    join_timestamp: new Date(joinedAtMs).toISOString(),
    flags: 0 as ThreadMemberFlags,
  };
}

/**
 * The channel object. For a thread the `member` field is the viewer's own membership, as Discord includes it
 * for the current user (discord.js reads it for `thread.joined`).
 */
export function apiChannelOf(channel: ChannelRecord, viewerId: string): APIChannel {
  const common = {
    id: channel.id,
    guild_id: channel.guildId,
    name: channel.name,
    position: channel.position,
    parent_id: channel.parentId,
    flags: 0,
    permission_overwrites: channel.overwrites.map((o) => ({
      id: o.id,
      type: o.type === 0 ? OverwriteType.Role : OverwriteType.Member,
      allow: o.allow.toString(),
      deny: o.deny.toString(),
    })),
  };
  switch (channel.type) {
    case ChannelType.GuildText:
    case ChannelType.GuildAnnouncement:
      return {
        ...common,
        type: channel.type,
        topic: channel.topic,
        nsfw: false,
        rate_limit_per_user: 0,
        last_message_id: channel.lastMessageId,
        default_auto_archive_duration: 1440,
      };
    case ChannelType.GuildVoice:
      return {
        ...common,
        type: ChannelType.GuildVoice,
        bitrate: 64_000,
        user_limit: 0,
        rtc_region: null,
        nsfw: false,
        rate_limit_per_user: 0,
        last_message_id: null,
      };
    case ChannelType.GuildCategory:
      return { ...common, type: ChannelType.GuildCategory, parent_id: null };
    case ChannelType.GuildForum:
    case ChannelType.GuildMedia: {
      const postOnly = {
        ...common,
        topic: channel.topic,
        nsfw: false,
        rate_limit_per_user: 0,
        // A forum's last_message_id is its latest post (thread) id.
        last_message_id: channel.lastMessageId,
        default_auto_archive_duration: 1440 as ThreadAutoArchiveDuration,
        available_tags: [],
        default_reaction_emoji: null,
        default_thread_rate_limit_per_user: 0,
        default_sort_order: null,
      };
      return channel.type === ChannelType.GuildForum
        ? { ...postOnly, type: ChannelType.GuildForum, default_forum_layout: ForumLayoutType.NotSet }
        : { ...postOnly, type: ChannelType.GuildMedia };
    }
    case ChannelType.AnnouncementThread:
    case ChannelType.PublicThread:
    case ChannelType.PrivateThread:
      return apiThreadOf(channel, viewerId);
  }
}

function apiThreadOf(channel: ChannelRecord, viewerId: string): APIThreadChannel {
  const thread = channel.thread;
  if (!thread) throw new Error(`channel ${channel.id} has a thread type but no thread state`);
  const joinedAtMs = thread.members.get(viewerId);
  // Threads have no overwrites or position of their own: they take their parent's permissions.
  const payload: APIThreadChannel = {
    id: channel.id,
    guild_id: channel.guildId,
    name: channel.name,
    ...(channel.parentId !== null ? { parent_id: channel.parentId } : {}),
    flags: 0 as ChannelFlags,
    type: channel.type as ThreadChannelType,
    owner_id: thread.ownerId,
    last_message_id: channel.lastMessageId,
    rate_limit_per_user: 0,
    message_count: thread.messageCount,
    total_message_sent: thread.messageCount,
    member_count: Math.min(thread.members.size, 50),
    thread_metadata: {
      archived: thread.archived,
      auto_archive_duration: thread.autoArchiveMinutes,
      archive_timestamp: new Date(thread.archiveChangedAtMs).toISOString(),
      locked: thread.locked,
      create_timestamp: new Date(thread.createdAtMs).toISOString(),
      ...(channel.type === ChannelType.PrivateThread ? { invitable: thread.invitable } : {}),
    },
    applied_tags: [],
    ...(joinedAtMs !== undefined ? { member: apiThreadMember(channel.id, viewerId, joinedAtMs) } : {}),
  };
  return payload;
}
