// The World's records and the specs tests build it from: plain data, no behaviour but turning a spec into
// a record. The World (world.ts) owns the state; channel-wire.ts turns channel records into Discord's shapes.
import {
  type APIAllowedMentions,
  type APIEmbed,
  type APIMessage,
  type APIMessageInteractionMetadata,
  type APIMessageTopLevelComponent,
  ChannelType,
  type GatewayDispatchEvents,
  type MessageType,
  type ThreadAutoArchiveDuration,
} from 'discord-api-types/v10';
import type { ChannelRecord, ThreadChannelType, WorldChannelType } from './channel-wire.js';
import type { MemberRoster } from './members.js';
import type { Pings } from './mentions.js';
import type { PermissionsInput } from './permissions.js';

export interface UserRecord {
  id: string;
  username: string;
  globalName: string | null;
  bot: boolean;
}

export interface RoleRecord {
  id: string;
  guildId: string;
  name: string;
  permissions: bigint;
  position: number;
  color: number;
  mentionable: boolean;
  hoist: boolean;
  /** Set for the role Discord creates for a bot when it joins. */
  botId: string | null;
}

export interface MemberRecord {
  userId: string;
  roleIds: string[];
  nick: string | null;
  joinedAt: string;
}

export interface GuildRecord {
  id: string;
  name: string;
  ownerId: string;
  channelIds: string[];
  /** Threads live beside channels, as on Discord: GET /guilds/:id/channels leaves them out. */
  threadIds: string[];
  roleIds: string[];
  /** Stored and synthetic members alike (see GuildSpec.memberCount). */
  members: MemberRoster;
  /** GET /guilds/:id?with_counts=true's approximate_presence_count (the emulator has no presences). */
  onlineCount: number;
}

export interface MessageRecord {
  message: APIMessage;
  guildId: string;
  nonce: string | null;
  createdAtMs: number;
  /** Who the message notified, after allowed_mentions: what a test asserts about pings. */
  pings: Pings;
  allowedMentions: APIAllowedMentions | undefined;
  ephemeral: boolean;
  deleted: boolean;
}

export interface TranscriptEntry {
  kind: 'create' | 'update' | 'delete';
  channelId: string;
  /** The message as it was right after this change. */
  message: APIMessage;
  at: number;
}

/** Receives every state change as the gateway event Discord would send; the gateway filters by intent. */
export type DispatchListener = (event: GatewayDispatchEvents, data: unknown, guildId: string | null) => void;

export interface UserSpec {
  username: string;
  globalName?: string;
  bot?: boolean;
}

export interface RoleSpec {
  name: string;
  permissions?: PermissionsInput;
  mentionable?: boolean;
  color?: number;
  hoist?: boolean;
}

/** A channel overwrite naming its target: a role by name (or '@everyone') or a member by user id. */
export interface OverwriteSpec {
  role?: string;
  member?: string;
  allow?: PermissionsInput;
  deny?: PermissionsInput;
}

export interface ChannelSpec {
  name: string;
  type?: 'text' | 'voice' | 'category' | 'announcement' | 'forum' | 'media';
  topic?: string;
  /** Name of a category created in the same `createGuild` call, or a category id. */
  parent?: string;
  overwrites?: OverwriteSpec[];
}

/** A thread in a text, announcement or forum channel (a forum's threads are its posts). */
export interface ThreadSpec {
  name: string;
  /** The parent channel: its name in the same `createGuild` call, or its id. */
  parent: string;
  /** Default public; a thread of an announcement channel is always an announcement thread. */
  type?: 'public' | 'private';
  /** User id of who opened it; defaults to the guild's owner. */
  owner?: string;
  archived?: boolean;
  locked?: boolean;
  /** User ids who joined it besides the owner (the bot joins a private thread only when listed). */
  members?: string[];
}

export interface MemberSpec {
  /** An existing user id, or a new user to create. */
  user: string | UserSpec;
  /** Role names (from this guild's `roles`) or role ids. */
  roles?: string[];
  nick?: string;
}

export interface GuildSpec {
  name: string;
  /** User id of the owner; defaults to a new user named `<guild>-owner`. */
  ownerId?: string;
  everyonePermissions?: PermissionsInput;
  /** Permissions of the bot's managed role (defaults to DEFAULT_BOT_PERMISSIONS). */
  botPermissions?: PermissionsInput;
  /** Extra role names the bot member holds. */
  botRoles?: string[];
  /** Leave the bot out of the guild (it then never sees it). */
  withoutBot?: boolean;
  roles?: RoleSpec[];
  channels?: ChannelSpec[];
  threads?: ThreadSpec[];
  members?: MemberSpec[];
  /**
   * The guild's total member count, as `member_count` reports it. Beyond the owner, the bot and `members`,
   * the rest are synthetic: users named `user-<n>` / `bot-<n>` whose ids and records are generated on demand
   * and never stored unless a test changes one, so 10,000 guilds of 1,000 members cost a few MB. They are
   * real members everywhere the emulator serves members (GUILD_CREATE, REQUEST_GUILD_MEMBERS, REST, counts,
   * permissions, interactions). `world.syntheticMemberId(guildId, index)` names one. Default: no synthetic.
   */
  memberCount?: number;
  /**
   * How many of `memberCount` are bots, the bot itself and any bot in `members` included (the synthetic ones
   * make up the rest). Default: only those.
   */
  botCount?: number;
  /**
   * Roles held by synthetic members: role name (from `roles`) → how many hold it; the first that many
   * synthetic members do (humans come first, then bots).
   */
  memberRoles?: Record<string, number>;
  /** GET /guilds/:id?with_counts=true's approximate_presence_count. Default 0: no one is online. */
  onlineCount?: number;
}

/** Ids of what `createGuild` made, by the names used in the spec. */
export interface GuildHandle {
  id: string;
  everyoneRoleId: string;
  ownerId: string;
  botRoleId: string | null;
  roles: Record<string, string>;
  channels: Record<string, string>;
  /** Member user ids by username. */
  members: Record<string, string>;
  /** Thread ids by name (optional so that a handle written by hand, as tests do, needs none). */
  threads?: Record<string, string>;
}

/** What `createGuild` returns: a handle that always lists the threads it made. */
export interface CreatedGuild extends GuildHandle {
  threads: Record<string, string>;
}

export interface PostMessageSpec {
  channel: string;
  author: string;
  content: string;
  embeds?: APIEmbed[];
  allowedMentions?: APIAllowedMentions;
  nonce?: string;
}

/** Internal: everything the REST and interaction layers may set on a new message. */
export interface CreateMessageInput extends PostMessageSpec {
  flags?: number;
  type?: MessageType;
  webhookId?: string;
  applicationId?: string;
  interactionMetadata?: APIMessageInteractionMetadata;
  replyTo?: string;
  ephemeral?: boolean;
  /** Action rows of buttons and selects (validated by the caller), kept and returned with the message. */
  components?: APIMessageTopLevelComponent[];
  /** A forum post's first message has its thread's id. */
  id?: string;
}

/** The channel type of each `ChannelSpec.type`. */
export const CHANNEL_TYPES: Record<NonNullable<ChannelSpec['type']>, WorldChannelType> = {
  text: ChannelType.GuildText,
  voice: ChannelType.GuildVoice,
  category: ChannelType.GuildCategory,
  announcement: ChannelType.GuildAnnouncement,
  forum: ChannelType.GuildForum,
  media: ChannelType.GuildMedia,
};

/** What a thread edit may change (PATCH /channels/:id on a thread, or an admin in a test). */
export interface ThreadEdit {
  name?: string;
  archived?: boolean;
  locked?: boolean;
}

/** A new thread: in a text or announcement channel, or a forum post (then with its first message). */
export interface NewThreadInput {
  parentId: string;
  name: string;
  ownerId: string;
  type: ThreadChannelType;
  autoArchiveMinutes?: ThreadAutoArchiveDuration;
  invitable?: boolean;
  archived?: boolean;
  locked?: boolean;
  memberIds?: string[];
}

/** What an edit may change on a message. */
export interface MessageEdit {
  content?: string;
  embeds?: APIEmbed[];
  components?: APIMessageTopLevelComponent[];
  flags?: number;
  allowedMentions?: APIAllowedMentions;
}

/** A thread spec in World terms: an announcement channel's threads are announcement threads. */
export function threadInput(parent: ChannelRecord, spec: ThreadSpec, ownerId: string): NewThreadInput {
  const allowed = [
    ChannelType.GuildText,
    ChannelType.GuildAnnouncement,
    ChannelType.GuildForum,
    ChannelType.GuildMedia,
  ];
  if (!allowed.includes(parent.type)) {
    throw new Error(`thread ${spec.name}: its parent must be a text, announcement or forum channel`);
  }
  const postOnly = parent.type === ChannelType.GuildForum || parent.type === ChannelType.GuildMedia;
  if (spec.type === 'private' && (postOnly || parent.type === ChannelType.GuildAnnouncement)) {
    throw new Error(`thread ${spec.name}: only a text channel has private threads`);
  }
  return {
    parentId: parent.id,
    name: spec.name,
    ownerId: spec.owner ?? ownerId,
    type:
      parent.type === ChannelType.GuildAnnouncement
        ? ChannelType.AnnouncementThread
        : spec.type === 'private'
          ? ChannelType.PrivateThread
          : ChannelType.PublicThread,
    ...(spec.archived !== undefined ? { archived: spec.archived } : {}),
    ...(spec.locked !== undefined ? { locked: spec.locked } : {}),
    ...(spec.members !== undefined ? { memberIds: spec.members } : {}),
  };
}
