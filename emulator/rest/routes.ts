import { type APIGatewayBotInfo, type APIMessage, PermissionFlagsBits } from 'discord-api-types/v10';
import { isThread } from '../channel-wire.js';
import type { CommandRegistry } from '../commands.js';
import {
  DiscordErrorCode,
  HttpError,
  invalidFormBody,
  missingAccess,
  missingPermissions,
  notFound,
} from '../errors.js';
import type { InteractionManager } from '../interactions.js';
import { editFromBody, parseMessageBody, requireSomethingToSend } from '../message-body.js';
import { has } from '../permissions.js';
import type { World } from '../world.js';
import { requireInChannel as botInChannel, requirePostable } from './channel-access.js';
import { rateLimitedResponse, type SlidingWindow } from './rate-limits.js';
import { editThread, threadRoutes } from './thread-routes.js';
import { noContent, ok, type RestRequest, type RouteDefinition } from './types.js';

export interface RouteContext {
  world: World;
  commands: CommandRegistry;
  interactions: InteractionManager;
  /** GET /gateway/bot: the url, the recommended shard count and the session start limit, as of now. */
  gatewayBot: () => APIGatewayBotInfo;
  /** Discord's 2 name/topic changes per 10 minutes per channel. */
  channelRenames: SlidingWindow;
  /** The ordinary bucket of PATCH /channels/:id, reported in x-ratelimit-* headers. */
  channelEdits: SlidingWindow;
  nonceWindowMs: number;
}

/** Every route the emulator serves, below /api/v10. */
export function buildRoutes(ctx: RouteContext): RouteDefinition[] {
  return [
    ...gatewayAndIdentityRoutes(ctx),
    ...guildRoutes(ctx),
    ...channelRoutes(ctx),
    ...threadRoutes(ctx.world),
    ...commandRoutes(ctx),
    ...interactionRoutes(ctx),
  ];
}

function gatewayAndIdentityRoutes({ world, gatewayBot }: RouteContext): RouteDefinition[] {
  return [
    { method: 'GET', pattern: '/gateway/bot', handler: () => ok(gatewayBot()) },
    { method: 'GET', pattern: '/gateway', handler: () => ok({ url: gatewayBot().url }), auth: false },
    {
      method: 'GET',
      pattern: '/users/@me',
      handler: () => ok({ ...world.apiUser(world.botUser.id), verified: true, mfa_enabled: false }),
    },
    { method: 'GET', pattern: '/users/:userId', handler: ({ params }) => ok(world.apiUser(params.userId!)) },
    {
      method: 'GET',
      pattern: '/applications/@me',
      handler: () =>
        ok({
          id: world.applicationId,
          name: world.botUser.username,
          icon: null,
          description: '',
          summary: '',
          bot_public: false,
          bot_require_code_grant: false,
          verify_key: '0'.repeat(64),
          flags: 0,
          team: null,
          owner: world.apiUser(world.botUser.id),
          bot: world.apiUser(world.botUser.id),
          approximate_guild_count: world.botGuildIds().length,
        }),
    },
  ];
}

function guildRoutes({ world }: RouteContext): RouteDefinition[] {
  const botGuild = (guildId: string) => {
    const guild = world.guild(guildId);
    if (!guild.members.has(world.botUser.id)) throw missingAccess();
    return guild;
  };
  return [
    {
      method: 'GET',
      pattern: '/guilds/:guildId',
      handler: ({ params, query }) => {
        const record = botGuild(params.guildId!);
        const {
          channels: _c,
          members: _m,
          voice_states: _v,
          presences: _p,
          threads: _t,
          large: _l,
          unavailable: _u,
          member_count: _mc,
          joined_at: _j,
          ...guild
        } = world.guildCreatePayload(record.id);
        if (query.get('with_counts') !== 'true') return ok(guild);
        return ok({
          ...guild,
          approximate_member_count: record.members.size,
          approximate_presence_count: Math.min(record.onlineCount, record.members.size),
        });
      },
    },
    {
      method: 'GET',
      pattern: '/guilds/:guildId/channels',
      handler: ({ params }) => ok(botGuild(params.guildId!).channelIds.map((id) => world.apiChannel(id))),
    },
    {
      method: 'GET',
      pattern: '/guilds/:guildId/roles',
      handler: ({ params }) => ok(botGuild(params.guildId!).roleIds.map((id) => world.apiRole(id))),
    },
    {
      method: 'GET',
      pattern: '/guilds/:guildId/members/:userId',
      handler: ({ params }) => ok(world.apiMember(botGuild(params.guildId!).id, params.userId!)),
    },
    {
      method: 'GET',
      pattern: '/guilds/:guildId/members',
      // Discord's paging: ascending user id above `after` (default 0), `limit` 1–1,000 (default 1).
      handler: ({ params, query }) => {
        const guild = botGuild(params.guildId!);
        const limit = Number(query.get('limit') ?? 1);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1_000) {
          throw invalidFormBody('limit', 'NUMBER_TYPE_MAX', 'int value should be between 1 and 1000.');
        }
        const after = query.get('after') ?? '0';
        if (!/^\d{1,20}$/.test(after)) {
          throw invalidFormBody('after', 'NUMBER_TYPE_COERCE', `Value "${after}" is not snowflake.`);
        }
        const ids = guild.members.page(BigInt(after), limit);
        return ok(ids.map((id) => world.apiMember(guild.id, id)));
      },
    },
  ];
}

function channelRoutes(ctx: RouteContext): RouteDefinition[] {
  const { world } = ctx;
  const requireInChannel = (channelId: string, ...bits: bigint[]) => botInChannel(world, channelId, ...bits);
  const messageIn = (channelId: string, messageId: string) => {
    const record = world.message(messageId);
    if (record.message.channel_id !== channelId || record.ephemeral)
      throw notFound(DiscordErrorCode.UnknownMessage, 'Message');
    return record;
  };

  return [
    {
      method: 'GET',
      pattern: '/channels/:channelId',
      handler: ({ params }) => ok(world.apiChannel(requireInChannel(params.channelId!).channel.id)),
    },
    {
      method: 'PATCH',
      pattern: '/channels/:channelId',
      handler: (request) =>
        isThread(world.channel(request.params.channelId!))
          ? editThread(world, request)
          : editChannel(ctx, request, requireInChannel),
    },
    {
      method: 'GET',
      pattern: '/channels/:channelId/messages',
      handler: ({ params, query }) => {
        const { channel } = requireInChannel(params.channelId!, PermissionFlagsBits.ReadMessageHistory);
        return ok(
          pageOfMessages(
            world.messages(channel.id).map((r) => r.message),
            query,
          ),
        );
      },
    },
    {
      method: 'GET',
      pattern: '/channels/:channelId/messages/:messageId',
      handler: ({ params }) => {
        requireInChannel(params.channelId!, PermissionFlagsBits.ReadMessageHistory);
        return ok(messageIn(params.channelId!, params.messageId!).message);
      },
    },
    {
      method: 'POST',
      pattern: '/channels/:channelId/messages',
      handler: ({ params, body }) => {
        const { channel } = requirePostable(world, params.channelId!);
        const input = parseMessageBody(body);
        if (input.nonce !== undefined && input.enforce_nonce) {
          const original = world.findByNonce(channel.id, world.botUser.id, input.nonce, ctx.nonceWindowMs);
          if (original) return ok(original.message);
        }
        requireSomethingToSend(input);
        const replyTo = input.message_reference?.message_id;
        if (replyTo !== undefined) messageIn(channel.id, replyTo);
        const created = world.createMessage({
          channel: channel.id,
          author: world.botUser.id,
          content: input.content ?? '',
          ...(input.embeds ? { embeds: input.embeds } : {}),
          ...(input.components ? { components: input.components } : {}),
          ...(input.allowed_mentions ? { allowedMentions: input.allowed_mentions } : {}),
          ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
          ...(replyTo !== undefined ? { replyTo } : {}),
          ...(input.flags !== undefined ? { flags: input.flags } : {}),
        });
        return ok(created.message);
      },
    },
    {
      method: 'PATCH',
      pattern: '/channels/:channelId/messages/:messageId',
      handler: ({ params, body }) => {
        requireInChannel(params.channelId!);
        const record = messageIn(params.channelId!, params.messageId!);
        if (record.message.author.id !== world.botUser.id) {
          throw new HttpError(
            403,
            DiscordErrorCode.CannotEditOtherUsersMessage,
            'Cannot edit a message authored by another user',
          );
        }
        const edited = world.editMessage(record.message.id, editFromBody(parseMessageBody(body)));
        return ok(edited.message);
      },
    },
    {
      method: 'DELETE',
      pattern: '/channels/:channelId/messages/:messageId',
      handler: ({ params }) => {
        const { permissions } = requireInChannel(params.channelId!);
        const record = messageIn(params.channelId!, params.messageId!);
        if (
          record.message.author.id !== world.botUser.id &&
          !has(permissions, PermissionFlagsBits.ManageMessages)
        ) {
          throw missingPermissions();
        }
        world.deleteMessage(record.message.id);
        return noContent();
      },
    },
    {
      method: 'POST',
      pattern: '/channels/:channelId/typing',
      handler: ({ params }) => {
        requirePostable(world, params.channelId!);
        return noContent();
      },
    },
  ];
}

function editChannel(
  ctx: RouteContext,
  { params, body }: RestRequest,
  requireInChannel: (channelId: string, ...bits: bigint[]) => { channel: ReturnType<World['channel']> },
) {
  const { world, channelRenames, channelEdits } = ctx;
  const { channel } = requireInChannel(params.channelId!, PermissionFlagsBits.ManageChannels);
  const patch = isObject(body) ? body : {};
  const name = typeof patch.name === 'string' ? patch.name : undefined;
  const topic = typeof patch.topic === 'string' || patch.topic === null ? patch.topic : undefined;
  if (name !== undefined && (name.length < 1 || name.length > 100)) {
    throw invalidFormBody('name', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
  }
  const bucketKey = channel.id;
  const bucketHeaders = (): Record<string, string> => {
    const resetAfterMs = channelEdits.resetAfter(bucketKey) || channelEdits.windowMs;
    return {
      'x-ratelimit-bucket': `channel-edit-${channel.id}`,
      'x-ratelimit-limit': String(channelEdits.limit),
      'x-ratelimit-remaining': String(channelEdits.remaining(bucketKey)),
      'x-ratelimit-reset-after': (resetAfterMs / 1_000).toFixed(3),
      'x-ratelimit-reset': ((Date.now() + resetAfterMs) / 1_000).toFixed(3),
    };
  };
  const bucketWaitMs = channelEdits.take(bucketKey);
  if (bucketWaitMs > 0) return rateLimitedResponse(bucketWaitMs, 'user', bucketHeaders());
  const renames =
    (name !== undefined && name !== channel.name) || (topic !== undefined && topic !== channel.topic);
  if (renames) {
    // The rename sublimit: the route bucket still has room, so discord.js treats it as a sublimit.
    const renameWaitMs = channelRenames.take(channel.id);
    if (renameWaitMs > 0) return rateLimitedResponse(renameWaitMs, 'user', bucketHeaders());
  }
  world.updateChannel(channel.id, {
    ...(name !== undefined ? { name } : {}),
    ...(topic !== undefined ? { topic } : {}),
    ...(typeof patch.parent_id === 'string' || patch.parent_id === null ? { parentId: patch.parent_id } : {}),
  });
  return { status: 200, body: world.apiChannel(channel.id), headers: bucketHeaders() };
}

function commandRoutes({ world, commands }: RouteContext): RouteDefinition[] {
  const app = (applicationId: string) => {
    if (applicationId !== world.applicationId)
      throw new HttpError(403, DiscordErrorCode.MissingAccess, 'Missing Access');
  };
  const scope = (params: Record<string, string>): string | null => {
    app(params.applicationId!);
    if (params.guildId === undefined) return null;
    const guild = world.guild(params.guildId);
    if (!guild.members.has(world.botUser.id)) throw missingAccess();
    return guild.id;
  };
  const routes: RouteDefinition[] = [];
  for (const base of [
    '/applications/:applicationId/commands',
    '/applications/:applicationId/guilds/:guildId/commands',
  ]) {
    routes.push(
      { method: 'GET', pattern: base, handler: ({ params }) => ok(commands.list(scope(params))) },
      {
        method: 'PUT',
        pattern: base,
        handler: ({ params, body }) => ok(commands.overwrite(scope(params), body)),
      },
      {
        method: 'POST',
        pattern: base,
        handler: ({ params, body }) => {
          const { command, created } = commands.upsert(scope(params), body);
          return ok(command, created ? 201 : 200);
        },
      },
      {
        method: 'GET',
        pattern: `${base}/:commandId`,
        handler: ({ params }) => ok(commands.get(scope(params), params.commandId!)),
      },
      {
        method: 'PATCH',
        pattern: `${base}/:commandId`,
        handler: ({ params, body }) => ok(commands.edit(scope(params), params.commandId!, body)),
      },
      {
        method: 'DELETE',
        pattern: `${base}/:commandId`,
        handler: ({ params }) => {
          commands.delete(scope(params), params.commandId!);
          return noContent();
        },
      },
    );
  }
  return routes;
}

function interactionRoutes({ interactions }: RouteContext): RouteDefinition[] {
  const webhook = '/webhooks/:applicationId/:token';
  return [
    {
      method: 'POST',
      pattern: '/interactions/:interactionId/:token/callback',
      auth: false,
      handler: ({ params, body, query }) => {
        const { record, message } = interactions.acknowledge(params.interactionId!, params.token!, body);
        if (query.get('with_response') !== 'true') return noContent();
        const callback = record.callback!;
        return ok({
          interaction: {
            id: record.id,
            type: record.type,
            response_message_id: message?.id,
            response_message_loading: message ? ((message.flags ?? 0) & 128) !== 0 : undefined,
            response_message_ephemeral: message ? ((message.flags ?? 0) & 64) !== 0 : undefined,
          },
          resource: { type: callback.type, ...(message ? { message } : {}) },
        });
      },
    },
    {
      method: 'POST',
      pattern: webhook,
      auth: false,
      handler: ({ params, body }) => {
        const record = interactions.byWebhook(params.applicationId!, params.token!);
        return ok(interactions.followUp(record, body));
      },
    },
    {
      method: 'GET',
      pattern: `${webhook}/messages/:messageId`,
      auth: false,
      handler: ({ params }) => {
        const record = interactions.byWebhook(params.applicationId!, params.token!);
        return ok(interactions.webhookMessage(record, params.messageId!).message);
      },
    },
    {
      method: 'PATCH',
      pattern: `${webhook}/messages/:messageId`,
      auth: false,
      handler: ({ params, body }) => {
        const record = interactions.byWebhook(params.applicationId!, params.token!);
        return ok(interactions.editWebhookMessage(record, params.messageId!, body));
      },
    },
    {
      method: 'DELETE',
      pattern: `${webhook}/messages/:messageId`,
      auth: false,
      handler: ({ params }) => {
        const record = interactions.byWebhook(params.applicationId!, params.token!);
        const message = interactions.webhookMessage(record, params.messageId!);
        interactions.world.deleteMessage(message.message.id);
        return noContent();
      },
    },
  ];
}

/** GET /channels/:id/messages: newest first, honouring limit (1-100, default 50), before, after, around. */
function pageOfMessages(oldestFirst: APIMessage[], query: URLSearchParams): APIMessage[] {
  const limit = Math.min(100, Math.max(1, Number(query.get('limit') ?? 50)));
  const before = query.get('before');
  const after = query.get('after');
  const around = query.get('around');
  let selected = oldestFirst;
  if (before) selected = selected.filter((m) => BigInt(m.id) < BigInt(before));
  if (after) selected = selected.filter((m) => BigInt(m.id) > BigInt(after));
  if (around) {
    const index = selected.findIndex((m) => BigInt(m.id) >= BigInt(around));
    const start = Math.max(0, index - Math.floor(limit / 2));
    return selected.slice(start, start + limit).reverse();
  }
  const window = after && !before ? selected.slice(0, limit) : selected.slice(-limit);
  return window.reverse();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
