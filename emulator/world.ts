import {
  type APIAllowedMentions,
  type APIChannel,
  type APIGuildMember,
  type APIMessage,
  type APIRole,
  type APIThreadList,
  type APIUser,
  ChannelType,
  GatewayDispatchEvents,
  type GatewayGuildCreateDispatchData,
  GuildDefaultMessageNotifications,
  GuildExplicitContentFilter,
  type GuildMemberFlags,
  GuildMFALevel,
  GuildNSFWLevel,
  GuildPremiumTier,
  GuildSystemChannelFlags,
  GuildVerificationLevel,
  Locale,
  MessageFlags,
  MessageType,
  PermissionFlagsBits,
  type RoleFlags,
  ThreadAutoArchiveDuration,
} from 'discord-api-types/v10';
import { apiChannelOf, apiThreadMember, type ChannelRecord, isThread } from './channel-wire.js';
import { DiscordErrorCode, notFound } from './errors.js';
import { WaitableLog, type WaitOptions } from './log.js';
import { MemberRoster, SyntheticIds, syntheticMembersOf } from './members.js';
import { type Pings, resolvePings } from './mentions.js';
import {
  applyOverwrites,
  computeBasePermissions,
  DEFAULT_BOT_PERMISSIONS,
  DEFAULT_EVERYONE_PERMISSIONS,
  has,
  type OverwriteBits,
  resolvePermissions,
} from './permissions.js';
import { SnowflakeGenerator, timestampOfSnowflake } from './snowflake.js';
import {
  CHANNEL_TYPES,
  type ChannelSpec,
  type CreatedGuild,
  type CreateMessageInput,
  type DispatchListener,
  type GuildRecord,
  type GuildSpec,
  type MemberRecord,
  type MemberSpec,
  type MessageEdit,
  type MessageRecord,
  type NewThreadInput,
  type PostMessageSpec,
  type RoleRecord,
  type RoleSpec,
  type ThreadEdit,
  type ThreadSpec,
  type TranscriptEntry,
  threadInput,
  type UserRecord,
  type UserSpec,
} from './world-records.js';

export type { ChannelRecord, ThreadState, WorldChannelType } from './channel-wire.js';
export type {
  ChannelSpec,
  CreatedGuild,
  CreateMessageInput,
  DispatchListener,
  GuildHandle,
  GuildRecord,
  GuildSpec,
  MemberRecord,
  MemberSpec,
  MessageEdit,
  MessageRecord,
  NewThreadInput,
  OverwriteSpec,
  PostMessageSpec,
  RoleRecord,
  RoleSpec,
  ThreadEdit,
  ThreadSpec,
  TranscriptEntry,
  UserRecord,
  UserSpec,
} from './world-records.js';

/**
 * The emulated Discord: users, guilds, roles, channels, members and messages. Every mutation updates
 * state first and then announces itself as the matching gateway event, so the bot's cache follows.
 */
export class World {
  readonly snowflakes = new SnowflakeGenerator();
  readonly botUser: UserRecord;
  /** Discord gives a bot's application the same id as its user. */
  readonly applicationId: string;
  /** Every create/update/delete of a channel message, in order. */
  readonly messageLog = new WaitableLog<TranscriptEntry>();

  readonly #users = new Map<string, UserRecord>();
  readonly #guilds = new Map<string, GuildRecord>();
  readonly #syntheticIds = new SyntheticIds();
  #joined = 0;
  /**
   * Guild n gets its id from millisecond n after the world began, by a generator of its own (worker 2) so that
   * it never meets an id the clock gives later: guilds made in one go spread over shards as real ones do,
   * predictably (consecutive guilds on consecutive shards) instead of all in the test's one millisecond.
   */
  readonly #guildSnowflakes = new SnowflakeGenerator(2n);
  readonly #guildEpochMs = Date.now();
  #guildsCreated = 0;
  readonly #roles = new Map<string, RoleRecord>();
  readonly #channels = new Map<string, ChannelRecord>();
  readonly #messages = new Map<string, MessageRecord>();
  readonly #channelMessages = new Map<string, MessageRecord[]>();
  readonly #listeners: DispatchListener[] = [];
  readonly #guildListeners: ((guildId: string) => void)[] = [];

  constructor(bot: { username: string } = { username: 'Metronome' }) {
    this.botUser = this.#addUser({ username: bot.username, bot: true });
    this.applicationId = this.botUser.id;
  }

  onDispatch(listener: DispatchListener): void {
    this.#listeners.push(listener);
  }

  /**
   * Called when the bot joins a guild. The gateway builds that guild's GUILD_CREATE itself, per session
   * (its shape depends on IDENTIFY's large_threshold), and only if some session will receive it.
   */
  onGuildAvailable(listener: (guildId: string) => void): void {
    this.#guildListeners.push(listener);
  }

  // ---- users -------------------------------------------------------------------------------------

  createUser(spec: UserSpec): string {
    return this.#addUser(spec).id;
  }

  user(id: string): UserRecord {
    const user = this.#users.get(id) ?? this.#syntheticUser(id);
    if (!user) throw notFound(DiscordErrorCode.UnknownUser, 'User');
    return user;
  }

  hasUser(id: string): boolean {
    return this.#users.has(id) || this.#syntheticIds.locate(id) !== null;
  }

  // ---- guilds ------------------------------------------------------------------------------------

  createGuild(spec: GuildSpec): CreatedGuild {
    const id = this.#guildSnowflakes.next(this.#guildEpochMs + this.#guildsCreated++);
    const ownerId = spec.ownerId ?? this.createUser({ username: `${spec.name}-owner` });
    const guild: GuildRecord = {
      id,
      name: spec.name,
      ownerId,
      channelIds: [],
      threadIds: [],
      roleIds: [],
      members: new MemberRoster(this.#syntheticIds),
      onlineCount: 0,
    };
    this.#guilds.set(id, guild);
    // @everyone shares the guild's id, as on Discord.
    this.#roles.set(id, {
      id,
      guildId: id,
      name: '@everyone',
      permissions: resolvePermissions(spec.everyonePermissions ?? DEFAULT_EVERYONE_PERMISSIONS),
      position: 0,
      color: 0,
      mentionable: false,
      hoist: false,
      botId: null,
    });
    guild.roleIds.push(id);

    const handle: CreatedGuild = {
      id,
      everyoneRoleId: id,
      ownerId,
      botRoleId: null,
      roles: {},
      channels: {},
      members: {},
      threads: {},
    };
    for (const roleSpec of spec.roles ?? [])
      handle.roles[roleSpec.name] = this.#insertRole(guild, roleSpec, null).id;
    const roleId = (nameOrId: string): string => {
      if (nameOrId === '@everyone') return id;
      const found = handle.roles[nameOrId] ?? (this.#roles.has(nameOrId) ? nameOrId : undefined);
      if (!found) throw new Error(`createGuild(${spec.name}): unknown role "${nameOrId}"`);
      return found;
    };

    this.#insertMember(guild, ownerId, [], null);
    handle.members[this.user(ownerId).username] = ownerId;
    if (!spec.withoutBot) {
      const botRole = this.#insertRole(
        guild,
        { name: this.botUser.username, permissions: spec.botPermissions ?? DEFAULT_BOT_PERMISSIONS },
        this.botUser.id,
      );
      handle.botRoleId = botRole.id;
      this.#insertMember(guild, this.botUser.id, [botRole.id, ...(spec.botRoles ?? []).map(roleId)], null);
    }
    for (const memberSpec of spec.members ?? []) {
      const userId = typeof memberSpec.user === 'string' ? memberSpec.user : this.createUser(memberSpec.user);
      this.#insertMember(guild, userId, (memberSpec.roles ?? []).map(roleId), memberSpec.nick ?? null);
      handle.members[this.user(userId).username] = userId;
    }
    this.#addSyntheticMembers(guild, spec, roleId);
    // Categories first so that children can name them as parent.
    const ordered = [...(spec.channels ?? [])].sort(
      (a, b) => Number(b.type === 'category') - Number(a.type === 'category'),
    );
    for (const channelSpec of ordered) {
      const parentId = channelSpec.parent
        ? (handle.channels[channelSpec.parent] ?? channelSpec.parent)
        : null;
      const channel = this.#insertChannel(guild, channelSpec, parentId, roleId);
      handle.channels[channelSpec.name] = channel.id;
    }
    for (const threadSpec of spec.threads ?? []) {
      const parentId = handle.channels[threadSpec.parent] ?? threadSpec.parent;
      handle.threads[threadSpec.name] = this.#insertThread(
        threadInput(this.channel(parentId), threadSpec, ownerId),
      ).id;
    }
    if (!spec.withoutBot) for (const listener of this.#guildListeners) listener(id);
    return handle;
  }

  guild(id: string): GuildRecord {
    const guild = this.#guilds.get(id);
    if (!guild) throw notFound(DiscordErrorCode.UnknownGuild, 'Guild');
    return guild;
  }

  /** Guilds the bot is a member of: what READY lists. */
  botGuildIds(): string[] {
    return [...this.#guilds.values()].filter((g) => g.members.has(this.botUser.id)).map((g) => g.id);
  }

  // ---- members -----------------------------------------------------------------------------------

  addMember(guildId: string, spec: MemberSpec): string {
    const guild = this.guild(guildId);
    const userId = typeof spec.user === 'string' ? spec.user : this.createUser(spec.user);
    const member = this.#insertMember(guild, userId, spec.roles ?? [], spec.nick ?? null);
    this.#emit(
      GatewayDispatchEvents.GuildMemberAdd,
      { ...this.#apiMember(member), guild_id: guildId },
      guildId,
    );
    return userId;
  }

  updateMember(guildId: string, userId: string, patch: { roles?: string[]; nick?: string | null }): void {
    // A copy stored back: a synthetic member that changes is stored from then on.
    const member = { ...this.member(guildId, userId) };
    if (patch.roles) member.roleIds = [...patch.roles];
    if (patch.nick !== undefined) member.nick = patch.nick;
    this.guild(guildId).members.set(userId, member);
    this.#emit(
      GatewayDispatchEvents.GuildMemberUpdate,
      { ...this.#apiMember(member), guild_id: guildId },
      guildId,
    );
  }

  removeMember(guildId: string, userId: string): void {
    const guild = this.guild(guildId);
    this.member(guildId, userId);
    guild.members.delete(userId);
    this.#emit(
      GatewayDispatchEvents.GuildMemberRemove,
      { guild_id: guildId, user: this.apiUser(userId) },
      guildId,
    );
  }

  /**
   * A new member joins (GUILD_MEMBER_ADD; member_count goes up by one): a fresh user named
   * `user-joined-<n>` (or `bot-joined-<n>`). Returns its id. For a named member, use addMember.
   */
  joinMember(guildId: string, options: { bot?: boolean } = {}): string {
    const bot = options.bot ?? false;
    const username = `${bot ? 'bot' : 'user'}-joined-${++this.#joined}`;
    return this.addMember(guildId, { user: { username, bot } });
  }

  /**
   * The user id of the guild's synthetic member `index` (0 to memberCount − listed members − 1; humans first,
   * then bots), e.g. to remove it (removeMember) or to invoke a command as it. Throws for an index out of range.
   */
  syntheticMemberId(guildId: string, index: number): string {
    return this.guild(guildId).members.syntheticId(index);
  }

  member(guildId: string, userId: string): MemberRecord {
    const member = this.guild(guildId).members.get(userId);
    if (!member) throw notFound(DiscordErrorCode.UnknownMember, 'Member');
    return member;
  }

  // ---- roles -------------------------------------------------------------------------------------

  createRole(guildId: string, spec: RoleSpec): string {
    const role = this.#insertRole(this.guild(guildId), spec, null);
    this.#emit(
      GatewayDispatchEvents.GuildRoleCreate,
      { guild_id: guildId, role: this.apiRole(role.id) },
      guildId,
    );
    return role.id;
  }

  updateRole(roleId: string, patch: Partial<RoleSpec>): void {
    const role = this.role(roleId);
    if (patch.name !== undefined) role.name = patch.name;
    if (patch.permissions !== undefined) role.permissions = resolvePermissions(patch.permissions);
    if (patch.mentionable !== undefined) role.mentionable = patch.mentionable;
    if (patch.color !== undefined) role.color = patch.color;
    if (patch.hoist !== undefined) role.hoist = patch.hoist;
    this.#emit(
      GatewayDispatchEvents.GuildRoleUpdate,
      { guild_id: role.guildId, role: this.apiRole(roleId) },
      role.guildId,
    );
  }

  deleteRole(roleId: string): void {
    const role = this.role(roleId);
    const guild = this.guild(role.guildId);
    this.#roles.delete(roleId);
    guild.roleIds = guild.roleIds.filter((id) => id !== roleId);
    guild.members.dropRole(roleId);
    this.#emit(GatewayDispatchEvents.GuildRoleDelete, { guild_id: guild.id, role_id: roleId }, guild.id);
  }

  role(id: string): RoleRecord {
    const role = this.#roles.get(id);
    if (!role) throw notFound(DiscordErrorCode.UnknownRole, 'Role');
    return role;
  }

  // ---- channels ----------------------------------------------------------------------------------

  createChannel(guildId: string, spec: ChannelSpec): string {
    const guild = this.guild(guildId);
    const channel = this.#insertChannel(guild, spec, spec.parent ?? null, (nameOrId) =>
      nameOrId === '@everyone' ? guildId : this.#roleIdByName(guild, nameOrId),
    );
    this.#emit(GatewayDispatchEvents.ChannelCreate, this.apiChannel(channel.id), guildId);
    return channel.id;
  }

  /** A change made by someone other than the bot (an admin renaming a channel, say). */
  updateChannel(
    channelId: string,
    patch: { name?: string; topic?: string | null; parentId?: string | null; overwrites?: OverwriteBits[] },
  ): void {
    const channel = this.channel(channelId);
    if (patch.name !== undefined) channel.name = patch.name;
    if (patch.topic !== undefined) channel.topic = patch.topic;
    if (patch.parentId !== undefined) channel.parentId = patch.parentId;
    if (patch.overwrites !== undefined) channel.overwrites = patch.overwrites;
    this.#emit(GatewayDispatchEvents.ChannelUpdate, this.apiChannel(channelId), channel.guildId);
  }

  /** Deletes a channel (with its threads, as Discord does) or a thread. */
  deleteChannel(channelId: string): void {
    const channel = this.channel(channelId);
    const guild = this.guild(channel.guildId);
    if (isThread(channel)) {
      const visible = this.#canView(channel);
      guild.threadIds = guild.threadIds.filter((id) => id !== channelId);
      this.#channels.delete(channelId);
      if (visible) {
        this.#emit(
          GatewayDispatchEvents.ThreadDelete,
          { id: channel.id, guild_id: guild.id, parent_id: channel.parentId, type: channel.type },
          guild.id,
        );
      }
      return;
    }
    const payload = this.apiChannel(channelId);
    guild.channelIds = guild.channelIds.filter((id) => id !== channelId);
    for (const threadId of guild.threadIds.filter((id) => this.#channels.get(id)?.parentId === channelId)) {
      this.#channels.delete(threadId);
    }
    guild.threadIds = guild.threadIds.filter((id) => this.#channels.has(id));
    this.#channels.delete(channelId);
    this.#emit(GatewayDispatchEvents.ChannelDelete, payload, guild.id);
  }

  // ---- threads -----------------------------------------------------------------------------------

  /** Someone opens a thread (an admin in a test, or the REST routes): THREAD_CREATE reaches the bot. */
  createThread(spec: ThreadSpec): string {
    const parent = this.channel(spec.parent);
    const ownerId = spec.owner ?? this.guild(parent.guildId).ownerId;
    return this.openThread(threadInput(parent, spec, ownerId)).id;
  }

  /** Internal: inserts the thread and announces it; a forum post's first message follows separately. */
  openThread(input: NewThreadInput): ChannelRecord {
    const thread = this.#insertThread(input);
    this.#emitThreadEvent(thread, GatewayDispatchEvents.ThreadCreate, {
      ...this.apiChannel(thread.id),
      newly_created: true,
    });
    return thread;
  }

  /** Archives, locks or renames a thread (Discord's auto-archive, a moderator): THREAD_UPDATE follows. */
  updateThread(threadId: string, patch: ThreadEdit): ChannelRecord {
    const channel = this.channel(threadId);
    if (!isThread(channel)) throw new Error(`channel ${threadId} is not a thread`);
    if (patch.name !== undefined) channel.name = patch.name;
    if (patch.locked !== undefined) channel.thread.locked = patch.locked;
    if (patch.archived !== undefined && patch.archived !== channel.thread.archived) {
      channel.thread.archived = patch.archived;
      channel.thread.archiveChangedAtMs = Date.now();
    }
    this.#emitThreadEvent(channel, GatewayDispatchEvents.ThreadUpdate, this.apiChannel(threadId));
    return channel;
  }

  /** Adds a member to a thread (joining it, or being added): THREAD_MEMBERS_UPDATE, as Discord sends. */
  joinThread(threadId: string, userId: string): void {
    const channel = this.channel(threadId);
    if (!isThread(channel)) throw new Error(`channel ${threadId} is not a thread`);
    if (channel.thread.members.has(userId)) return;
    const sawIt = this.#canView(channel);
    const joinedAtMs = Date.now();
    channel.thread.members.set(userId, joinedAtMs);
    // Added to a private thread it could not see, the bot learns of the thread itself first, as on Discord.
    if (!sawIt) this.#emitThreadEvent(channel, GatewayDispatchEvents.ThreadCreate, this.apiChannel(threadId));
    this.#emitThreadEvent(channel, GatewayDispatchEvents.ThreadMembersUpdate, {
      id: threadId,
      guild_id: channel.guildId,
      member_count: Math.min(channel.thread.members.size, 50),
      added_members: [apiThreadMember(threadId, userId, joinedAtMs)],
    });
  }

  /**
   * The guild's threads that are not archived and that the bot can see, with its memberships: what GUILD_CREATE
   * and GET /guilds/:id/threads/active list.
   */
  activeThreads(guildId: string): APIThreadList {
    const viewerId = this.botUser.id;
    const threads = this.guild(guildId)
      .threadIds.map((id) => this.channel(id))
      .filter((channel) => isThread(channel) && !channel.thread.archived && this.#canView(channel));
    return {
      threads: threads.map((channel) => this.apiChannel(channel.id)),
      members: threads.flatMap((channel) => {
        const joinedAtMs = channel.thread?.members.get(viewerId);
        return joinedAtMs === undefined ? [] : [apiThreadMember(channel.id, viewerId, joinedAtMs)];
      }),
    };
  }

  channel(id: string): ChannelRecord {
    const channel = this.#channels.get(id);
    if (!channel) throw notFound(DiscordErrorCode.UnknownChannel, 'Channel');
    return channel;
  }

  // ---- permissions -------------------------------------------------------------------------------

  /** Guild permissions of a member, or, with a channel, their permissions in that channel. */
  permissionsOf(guildId: string, userId: string, channelId?: string): bigint {
    const guild = this.guild(guildId);
    const member = this.member(guildId, userId);
    const base = computeBasePermissions({
      isOwner: guild.ownerId === userId,
      everyonePermissions: this.role(guildId).permissions,
      rolePermissions: member.roleIds.map((id) => this.role(id).permissions),
    });
    if (channelId === undefined) return base;
    const channel = this.channel(channelId);
    // A thread has no overwrites: it takes its parent's permissions.
    const source = isThread(channel) && channel.parentId !== null ? this.channel(channel.parentId) : channel;
    const permissions = applyOverwrites({
      base,
      guildId,
      memberId: userId,
      memberRoleIds: member.roleIds,
      overwrites: source.overwrites,
    });
    // A private thread is seen only by its members and by those who may manage threads.
    if (
      channel.type === ChannelType.PrivateThread &&
      !channel.thread?.members.has(userId) &&
      !has(permissions, PermissionFlagsBits.ManageThreads)
    ) {
      return 0n;
    }
    return permissions;
  }

  // ---- messages ----------------------------------------------------------------------------------

  /** A (fake) user posts in a channel: MESSAGE_CREATE reaches the bot. */
  postMessage(spec: PostMessageSpec): APIMessage {
    return this.createMessage(spec).message;
  }

  createMessage(input: CreateMessageInput): MessageRecord {
    const channel = this.channel(input.channel);
    const author = this.user(input.author);
    const replyTo = input.replyTo ? this.message(input.replyTo) : null;
    const pings = this.#pings(
      channel,
      author.id,
      input.content,
      input.allowedMentions,
      replyTo ? replyTo.message.author.id : null,
    );
    const id = input.id ?? this.snowflakes.next();
    const now = Date.now();
    const message: APIMessage = {
      id,
      channel_id: channel.id,
      author: this.apiUser(author.id),
      content: input.content,
      timestamp: new Date(now).toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: pings.everyone,
      mentions: this.#mentionedUsers(pings),
      mention_roles: pings.roles,
      attachments: [],
      embeds: input.embeds ?? [],
      pinned: false,
      type: input.type ?? (replyTo ? MessageType.Reply : MessageType.Default),
      flags: input.flags ?? 0,
      components: input.components ?? [],
      ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
      ...(input.webhookId !== undefined ? { webhook_id: input.webhookId } : {}),
      ...(input.applicationId !== undefined ? { application_id: input.applicationId } : {}),
      ...(input.interactionMetadata !== undefined ? { interaction_metadata: input.interactionMetadata } : {}),
      ...(replyTo
        ? {
            message_reference: {
              type: 0,
              message_id: replyTo.message.id,
              channel_id: channel.id,
              guild_id: channel.guildId,
            },
          }
        : {}),
    };
    const record: MessageRecord = {
      message,
      guildId: channel.guildId,
      nonce: input.nonce ?? null,
      createdAtMs: now,
      pings,
      allowedMentions: input.allowedMentions,
      ephemeral: input.ephemeral ?? false,
      deleted: false,
    };
    this.#messages.set(id, record);
    if (record.ephemeral) return record;
    // Ephemeral messages are never part of the channel, nor sent on the gateway.
    const list = this.#channelMessages.get(channel.id) ?? [];
    list.push(record);
    this.#channelMessages.set(channel.id, list);
    channel.lastMessageId = id;
    this.#afterThreadPost(channel, author.id, id);
    this.messageLog.push({
      kind: 'create',
      channelId: channel.id,
      message: structuredClone(message),
      at: now,
    });
    this.#emit(
      GatewayDispatchEvents.MessageCreate,
      { ...message, guild_id: channel.guildId, member: this.#apiMemberOrNull(channel.guildId, author.id) },
      channel.guildId,
    );
    return record;
  }

  /**
   * Applies an edit, by whatever route it came (channel PATCH, interaction callback or webhook): of the
   * flags only SuppressEmbeds can change, as on Discord; editing a deferred reply clears its loading state.
   */
  editMessage(messageId: string, patch: MessageEdit): MessageRecord {
    const record = this.message(messageId);
    const { message } = record;
    if (patch.content !== undefined) message.content = patch.content;
    if (patch.embeds !== undefined) message.embeds = patch.embeds;
    if (patch.components !== undefined) message.components = patch.components;
    const current = message.flags ?? 0;
    const suppressEmbeds = (patch.flags ?? current) & MessageFlags.SuppressEmbeds;
    message.flags = (current & ~MessageFlags.SuppressEmbeds & ~MessageFlags.Loading) | suppressEmbeds;
    if (patch.allowedMentions !== undefined) record.allowedMentions = patch.allowedMentions;
    if (patch.content !== undefined) {
      const channel = this.channel(message.channel_id);
      record.pings = this.#pings(channel, message.author.id, message.content, record.allowedMentions, null);
      message.mentions = this.#mentionedUsers(record.pings);
      message.mention_roles = record.pings.roles;
      message.mention_everyone = record.pings.everyone;
    }
    const now = Date.now();
    message.edited_timestamp = new Date(now).toISOString();
    if (record.ephemeral) return record;
    this.messageLog.push({
      kind: 'update',
      channelId: message.channel_id,
      message: structuredClone(message),
      at: now,
    });
    this.#emit(GatewayDispatchEvents.MessageUpdate, { ...message, guild_id: record.guildId }, record.guildId);
    return record;
  }

  deleteMessage(messageId: string): void {
    const record = this.message(messageId);
    record.deleted = true;
    const channelId = record.message.channel_id;
    const list = this.#channelMessages.get(channelId) ?? [];
    this.#channelMessages.set(
      channelId,
      list.filter((r) => r !== record),
    );
    if (record.ephemeral) return;
    this.messageLog.push({
      kind: 'delete',
      channelId,
      message: structuredClone(record.message),
      at: Date.now(),
    });
    this.#emit(
      GatewayDispatchEvents.MessageDelete,
      { id: messageId, channel_id: channelId, guild_id: record.guildId },
      record.guildId,
    );
  }

  /** A live (not deleted) message. */
  message(id: string): MessageRecord {
    const record = this.#messages.get(id);
    if (!record || record.deleted) throw notFound(DiscordErrorCode.UnknownMessage, 'Message');
    return record;
  }

  /** The channel's live messages, oldest first. */
  messages(channelId: string): MessageRecord[] {
    return [...(this.#channelMessages.get(channelId) ?? [])];
  }

  /** Every create/update/delete in a channel, in order, each with the message as it then was. */
  transcript(channelId: string): TranscriptEntry[] {
    return this.messageLog.entries.filter((entry) => entry.channelId === channelId);
  }

  /** Resolves with the first message created or edited in the channel that satisfies the predicate. */
  waitForMessage(
    channelId: string,
    predicate: (message: APIMessage) => boolean = () => true,
    options?: WaitOptions,
  ): Promise<APIMessage> {
    return this.messageLog
      .waitFor(
        (entry) => entry.channelId === channelId && entry.kind !== 'delete' && predicate(entry.message),
        `a message in channel ${channelId}`,
        options,
      )
      .then((entry) => entry.message);
  }

  waitForMessageDelete(
    channelId: string,
    messageId: string,
    options?: WaitOptions,
  ): Promise<TranscriptEntry> {
    return this.messageLog.waitFor(
      (entry) => entry.kind === 'delete' && entry.channelId === channelId && entry.message.id === messageId,
      `deletion of message ${messageId}`,
      options,
    );
  }

  /** The message a nonce already produced, if the same author used it in this channel within the window. */
  findByNonce(
    channelId: string,
    authorId: string,
    nonce: string,
    windowMs: number,
  ): MessageRecord | undefined {
    const since = Date.now() - windowMs;
    return [...this.#messages.values()].find(
      (r) =>
        r.message.channel_id === channelId &&
        r.message.author.id === authorId &&
        r.nonce === nonce &&
        r.createdAtMs >= since,
    );
  }

  // ---- wire shapes -------------------------------------------------------------------------------

  apiUser(id: string): APIUser {
    const user = this.user(id);
    return {
      id: user.id,
      username: user.username,
      discriminator: '0',
      global_name: user.globalName,
      avatar: null,
      bot: user.bot,
    };
  }

  apiRole(id: string): APIRole {
    const role = this.role(id);
    return {
      id: role.id,
      name: role.name,
      color: role.color,
      colors: { primary_color: role.color, secondary_color: null, tertiary_color: null },
      hoist: role.hoist,
      icon: null,
      unicode_emoji: null,
      position: role.position,
      permissions: role.permissions.toString(),
      managed: role.botId !== null,
      mentionable: role.mentionable,
      flags: 0 as RoleFlags,
      ...(role.botId !== null ? { tags: { bot_id: role.botId } } : {}),
    };
  }

  /** The channel as the bot receives it (a thread's `member` is the bot's own membership). */
  apiChannel(id: string): APIChannel {
    return apiChannelOf(this.channel(id), this.botUser.id);
  }

  apiMember(guildId: string, userId: string): APIGuildMember {
    return this.#apiMember(this.member(guildId, userId));
  }

  /**
   * The guild as GUILD_CREATE carries it. As on Discord, a guild with more members than `largeThreshold`
   * (IDENTIFY's large_threshold, default 50) is `large` and lists only the bot's own member (and those in
   * voice, which the emulator has none of); `member_count` is always the true count.
   */
  guildCreatePayload(
    guildId: string,
    options: { largeThreshold?: number } = {},
  ): GatewayGuildCreateDispatchData {
    const guild = this.guild(guildId);
    const large = guild.members.size > (options.largeThreshold ?? 50);
    const bot = guild.members.get(this.botUser.id);
    const members = large ? (bot ? [bot] : []) : [...guild.members.values()];
    return {
      id: guild.id,
      name: guild.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: guild.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: GuildVerificationLevel.None,
      default_message_notifications: GuildDefaultMessageNotifications.OnlyMentions,
      explicit_content_filter: GuildExplicitContentFilter.Disabled,
      roles: guild.roleIds.map((id) => this.apiRole(id)),
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: GuildMFALevel.None,
      application_id: null,
      system_channel_id: null,
      system_channel_flags: GuildSystemChannelFlags.SuppressJoinNotifications,
      rules_channel_id: null,
      vanity_url_code: null,
      premium_tier: GuildPremiumTier.None,
      premium_subscription_count: 0,
      preferred_locale: Locale.EnglishUS,
      public_updates_channel_id: null,
      nsfw_level: GuildNSFWLevel.Default,
      premium_progress_bar_enabled: false,
      hub_type: null,
      safety_alerts_channel_id: null,
      incidents_data: null,
      max_members: 500_000,
      joined_at: guild.members.get(this.botUser.id)?.joinedAt ?? new Date().toISOString(),
      large,
      unavailable: false,
      member_count: guild.members.size,
      voice_states: [],
      members: members.map((m) => this.#apiMember(m)),
      channels: guild.channelIds.map((id) =>
        this.apiChannel(id),
      ) as GatewayGuildCreateDispatchData['channels'],
      // Discord lists the active threads the bot can see.
      threads: this.activeThreads(guildId).threads as GatewayGuildCreateDispatchData['threads'],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  // ---- internals ---------------------------------------------------------------------------------

  #emit(event: GatewayDispatchEvents, data: unknown, guildId: string | null): void {
    for (const listener of this.#listeners) listener(event, data, guildId);
  }

  /** Fills the guild up to spec.memberCount with synthetic members (see GuildSpec.memberCount). */
  #addSyntheticMembers(guild: GuildRecord, spec: GuildSpec, roleId: (nameOrId: string) => string): void {
    const listed = [...guild.members.stored()];
    const { synthetic, onlineCount } = syntheticMembersOf(spec, {
      listed: listed.length,
      listedBots: listed.filter((m) => this.user(m.userId).bot).length,
      roleId,
      joinedAt: new Date(timestampOfSnowflake(guild.id)).toISOString(),
    });
    guild.onlineCount = onlineCount;
    guild.members.addSynthetic(synthetic);
  }

  #syntheticUser(id: string): UserRecord | undefined {
    const found = this.#syntheticIds.locate(id);
    return found ? found.roster.syntheticUser(found.index) : undefined;
  }

  #addUser(spec: UserSpec): UserRecord {
    const user: UserRecord = {
      id: this.snowflakes.next(),
      username: spec.username,
      globalName: spec.globalName ?? null,
      bot: spec.bot ?? false,
    };
    this.#users.set(user.id, user);
    return user;
  }

  #insertRole(guild: GuildRecord, spec: RoleSpec, botId: string | null): RoleRecord {
    const role: RoleRecord = {
      id: this.snowflakes.next(),
      guildId: guild.id,
      name: spec.name,
      permissions: resolvePermissions(spec.permissions ?? 0n),
      position: guild.roleIds.length,
      color: spec.color ?? 0,
      mentionable: spec.mentionable ?? false,
      hoist: spec.hoist ?? false,
      botId,
    };
    this.#roles.set(role.id, role);
    guild.roleIds.push(role.id);
    return role;
  }

  #insertMember(guild: GuildRecord, userId: string, roleIds: string[], nick: string | null): MemberRecord {
    this.user(userId);
    const member: MemberRecord = { userId, roleIds, nick, joinedAt: new Date().toISOString() };
    guild.members.set(userId, member);
    return member;
  }

  #insertChannel(
    guild: GuildRecord,
    spec: ChannelSpec,
    parentId: string | null,
    roleId: (nameOrId: string) => string,
  ): ChannelRecord {
    const channel: ChannelRecord = {
      id: this.snowflakes.next(),
      guildId: guild.id,
      type: CHANNEL_TYPES[spec.type ?? 'text'],
      name: spec.name,
      topic: spec.topic ?? null,
      parentId,
      position: guild.channelIds.length,
      overwrites: (spec.overwrites ?? []).map((o) => {
        if ((o.role === undefined) === (o.member === undefined)) {
          throw new Error(`channel ${spec.name}: an overwrite names exactly one of role or member`);
        }
        return {
          id: o.role !== undefined ? roleId(o.role) : o.member!,
          type: o.role !== undefined ? 0 : 1,
          allow: resolvePermissions(o.allow ?? 0n),
          deny: resolvePermissions(o.deny ?? 0n),
        };
      }),
      lastMessageId: null,
      thread: null,
    };
    this.#channels.set(channel.id, channel);
    guild.channelIds.push(channel.id);
    return channel;
  }

  #insertThread(input: NewThreadInput): ChannelRecord {
    const parent = this.channel(input.parentId);
    const guild = this.guild(parent.guildId);
    const now = Date.now();
    const members = new Map<string, number>([[input.ownerId, now]]);
    for (const userId of input.memberIds ?? []) members.set(userId, now);
    const channel: ChannelRecord = {
      id: this.snowflakes.next(now),
      guildId: guild.id,
      type: input.type,
      name: input.name,
      topic: null,
      parentId: parent.id,
      position: 0,
      overwrites: [],
      lastMessageId: null,
      thread: {
        ownerId: input.ownerId,
        archived: input.archived ?? false,
        locked: input.locked ?? false,
        autoArchiveMinutes: input.autoArchiveMinutes ?? ThreadAutoArchiveDuration.OneDay,
        archiveChangedAtMs: now,
        createdAtMs: now,
        members,
        invitable: input.invitable ?? true,
        messageCount: 0,
      },
    };
    this.#channels.set(channel.id, channel);
    guild.threadIds.push(channel.id);
    // A forum's last_message_id is its latest post.
    if (parent.type === ChannelType.GuildForum || parent.type === ChannelType.GuildMedia) {
      parent.lastMessageId = channel.id;
    }
    return channel;
  }

  /**
   * Posting in a thread counts the message, makes the author a member and reopens an archived thread (the
   * routes refuse a locked one first), as Discord does; each change is announced.
   */
  #afterThreadPost(channel: ChannelRecord, authorId: string, messageId: string): void {
    if (!isThread(channel)) return;
    // A forum post's first message shares the thread's id and is not counted by Discord.
    if (messageId !== channel.id) channel.thread.messageCount++;
    if (channel.thread.archived) this.updateThread(channel.id, { archived: false });
    if (this.guild(channel.guildId).members.has(authorId)) this.joinThread(channel.id, authorId);
  }

  /** Thread events reach the bot only for threads it can see: a private one it is not in stays unknown. */
  #emitThreadEvent(thread: ChannelRecord, event: GatewayDispatchEvents, data: unknown): void {
    if (this.#canView(thread)) this.#emit(event, data, thread.guildId);
  }

  /** Whether the bot can see the channel: what GUILD_CREATE and the thread list show it. */
  #canView(channel: ChannelRecord): boolean {
    const guild = this.guild(channel.guildId);
    if (!guild.members.has(this.botUser.id)) return false;
    return has(this.permissionsOf(guild.id, this.botUser.id, channel.id), PermissionFlagsBits.ViewChannel);
  }

  #roleIdByName(guild: GuildRecord, nameOrId: string): string {
    if (this.#roles.has(nameOrId)) return nameOrId;
    const found = guild.roleIds.find((id) => this.role(id).name === nameOrId);
    if (!found) throw new Error(`unknown role "${nameOrId}" in guild ${guild.name}`);
    return found;
  }

  /** Who a message by `authorId` in `channel` notifies, after allowed_mentions and the author's permissions. */
  #pings(
    channel: ChannelRecord,
    authorId: string,
    content: string,
    allowedMentions: APIAllowedMentions | undefined,
    repliedUserId: string | null,
  ): Pings {
    return resolvePings({
      content,
      allowedMentions,
      mentionableRoleIds: new Set(
        this.guild(channel.guildId).roleIds.filter((id) => this.role(id).mentionable),
      ),
      canMentionEveryone: has(this.#safePermissions(channel, authorId), PermissionFlagsBits.MentionEveryone),
      repliedUserId,
    });
  }

  /** The `mentions` field: pinged users that exist. */
  #mentionedUsers(pings: Pings): APIUser[] {
    return pings.users.filter((id) => this.hasUser(id)).map((id) => this.apiUser(id));
  }

  /** Channel permissions, or none for an author that is not a member (a webhook, a departed user). */
  #safePermissions(channel: ChannelRecord, userId: string): bigint {
    return this.guild(channel.guildId).members.has(userId)
      ? this.permissionsOf(channel.guildId, userId, channel.id)
      : 0n;
  }

  #apiMember(member: MemberRecord): APIGuildMember {
    return {
      user: this.apiUser(member.userId),
      nick: member.nick,
      avatar: null,
      banner: null,
      roles: [...member.roleIds],
      joined_at: member.joinedAt,
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0 as GuildMemberFlags,
      pending: false,
    };
  }

  #apiMemberOrNull(guildId: string, userId: string): Omit<APIGuildMember, 'user'> | undefined {
    const member = this.guild(guildId).members.get(userId);
    if (!member) return undefined;
    const { user: _user, ...rest } = this.#apiMember(member);
    return rest;
  }
}
