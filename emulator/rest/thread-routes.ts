// Threads and forum posts: POST /channels/:id/threads (a thread in a text or announcement channel, or a
// forum post with its first message), thread edits (archive, lock, rename), joining, and the guild's
// active threads. Shapes and error codes follow Discord's documentation.
import {
  ChannelType,
  PermissionFlagsBits,
  RESTJSONErrorCodes,
  ThreadAutoArchiveDuration,
} from 'discord-api-types/v10';
import { isThread, POST_ONLY_TYPES, type ThreadChannelType } from '../channel-wire.js';
import { HttpError, invalidFormBody, missingAccess, missingPermissions } from '../errors.js';
import { parseMessageBody, requireSomethingToSend } from '../message-body.js';
import { has } from '../permissions.js';
import type { World } from '../world.js';
import { requireInChannel } from './channel-access.js';
import { noContent, ok, type RestRequest, type RestResponse, type RouteDefinition } from './types.js';

const AUTO_ARCHIVE_MINUTES: ReadonlySet<number> = new Set(
  Object.values(ThreadAutoArchiveDuration).filter((value) => typeof value === 'number'),
);

export function threadRoutes(world: World): RouteDefinition[] {
  return [
    {
      method: 'POST',
      pattern: '/channels/:channelId/threads',
      handler: (request) => startThread(world, request),
    },
    {
      method: 'PUT',
      pattern: '/channels/:channelId/thread-members/@me',
      handler: ({ params }) => {
        const { channel } = requireInChannel(world, params.channelId!);
        if (!isThread(channel)) throw notAThreadAction();
        if (channel.thread.archived) throw archivedThread();
        world.joinThread(channel.id, world.botUser.id);
        return noContent();
      },
    },
    {
      method: 'GET',
      pattern: '/guilds/:guildId/threads/active',
      handler: ({ params }) => {
        const guild = world.guild(params.guildId!);
        if (!guild.members.has(world.botUser.id)) throw missingAccess();
        return ok(world.activeThreads(guild.id));
      },
    },
  ];
}

/** PATCH /channels/:id on a thread: archive or reopen, lock, rename. */
export function editThread(world: World, { params, body }: RestRequest): RestResponse {
  const { channel, permissions } = requireInChannel(world, params.channelId!);
  if (!isThread(channel)) throw notAThreadAction();
  const patch = isObject(body) ? body : {};
  const name = typeof patch.name === 'string' ? patch.name : undefined;
  const archived = typeof patch.archived === 'boolean' ? patch.archived : undefined;
  const locked = typeof patch.locked === 'boolean' ? patch.locked : undefined;
  if (name !== undefined && (name.length < 1 || name.length > 100)) {
    throw invalidFormBody('name', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
  }
  const manages = has(permissions, PermissionFlagsBits.ManageThreads);
  // An archived thread takes no other change until it is reopened.
  if (channel.thread.archived && archived !== false) throw archivedThread();
  if (archived === false && channel.thread.archived) {
    const staysLocked = locked ?? channel.thread.locked;
    // Reopening needs only Send Messages unless the thread is locked (Discord's Modify Channel docs).
    const needed = staysLocked
      ? PermissionFlagsBits.ManageThreads
      : PermissionFlagsBits.SendMessagesInThreads;
    if (!has(permissions, needed)) throw missingPermissions();
  }
  if (locked !== undefined && locked !== channel.thread.locked && !manages) throw missingPermissions();
  const ownerOrManager = manages || channel.thread.ownerId === world.botUser.id;
  if ((name !== undefined || archived === true) && !ownerOrManager) throw missingPermissions();
  world.updateThread(channel.id, {
    ...(name !== undefined ? { name } : {}),
    ...(archived !== undefined ? { archived } : {}),
    ...(locked !== undefined ? { locked } : {}),
  });
  return ok(world.apiChannel(channel.id));
}

function startThread(world: World, { params, body }: RestRequest): RestResponse {
  const parent = world.channel(params.channelId!);
  const input = isObject(body) ? body : {};
  const name = input.name;
  if (typeof name !== 'string' || name.length < 1 || name.length > 100) {
    throw invalidFormBody('name', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
  }
  const autoArchive = input.auto_archive_duration ?? ThreadAutoArchiveDuration.OneDay;
  if (typeof autoArchive !== 'number' || !AUTO_ARCHIVE_MINUTES.has(autoArchive)) {
    throw invalidFormBody(
      'auto_archive_duration',
      'BASE_TYPE_CHOICES',
      'Value must be one of {60, 1440, 4320, 10080}.',
    );
  }
  const autoArchiveMinutes = autoArchive as ThreadAutoArchiveDuration;
  if (POST_ONLY_TYPES.has(parent.type)) {
    // A forum's Create Posts is Send Messages on the forum.
    requireInChannel(world, parent.id, PermissionFlagsBits.SendMessages);
    if (!isObject(input.message)) {
      throw invalidFormBody('message', 'BASE_TYPE_REQUIRED', 'This field is required');
    }
    // Discord documents no nonce for a post's first message: the emulator, like Discord, dedupes nothing here.
    const { nonce: _nonce, enforce_nonce: _enforce, ...message } = parseMessageBody(input.message);
    requireSomethingToSend(message);
    const thread = world.openThread({
      parentId: parent.id,
      name,
      ownerId: world.botUser.id,
      type: ChannelType.PublicThread,
      autoArchiveMinutes,
    });
    const starter = world.createMessage({
      id: thread.id,
      channel: thread.id,
      author: world.botUser.id,
      content: message.content ?? '',
      ...(message.embeds ? { embeds: message.embeds } : {}),
      ...(message.components ? { components: message.components } : {}),
      ...(message.allowed_mentions ? { allowedMentions: message.allowed_mentions } : {}),
      ...(message.flags !== undefined ? { flags: message.flags } : {}),
    });
    return ok({ ...world.apiChannel(thread.id), message: starter.message }, 201);
  }
  if (parent.type !== ChannelType.GuildText && parent.type !== ChannelType.GuildAnnouncement) {
    throw new HttpError(
      400,
      RESTJSONErrorCodes.CannotExecuteActionOnThisChannelType,
      'Cannot execute action on this channel type',
    );
  }
  // Without a message, API v10 opens a private thread unless told otherwise; an announcement channel's are announcement threads.
  const asked = input.type ?? ChannelType.PrivateThread;
  const type: ThreadChannelType | undefined =
    parent.type === ChannelType.GuildAnnouncement
      ? asked === ChannelType.AnnouncementThread || asked === ChannelType.PublicThread
        ? ChannelType.AnnouncementThread
        : undefined
      : asked === ChannelType.PublicThread || asked === ChannelType.PrivateThread
        ? asked
        : undefined;
  if (type === undefined)
    throw invalidFormBody('type', 'BASE_TYPE_CHOICES', 'Value must be a thread type this channel has.');
  requireInChannel(
    world,
    parent.id,
    type === ChannelType.PrivateThread
      ? PermissionFlagsBits.CreatePrivateThreads
      : PermissionFlagsBits.CreatePublicThreads,
  );
  const thread = world.openThread({
    parentId: parent.id,
    name,
    ownerId: world.botUser.id,
    type,
    autoArchiveMinutes,
    ...(typeof input.invitable === 'boolean' ? { invitable: input.invitable } : {}),
  });
  return ok(world.apiChannel(thread.id), 201);
}

const archivedThread = (): HttpError =>
  new HttpError(400, RESTJSONErrorCodes.InvalidActionOnArchivedThread, 'Thread is archived');

const notAThreadAction = (): HttpError =>
  new HttpError(
    400,
    RESTJSONErrorCodes.CannotExecuteActionOnThisChannelType,
    'Cannot execute action on this channel type',
  );

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
