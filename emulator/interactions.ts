import { randomBytes } from 'node:crypto';
import {
  type APIApplicationCommandOptionChoice,
  type APIInteraction,
  type APIMessage,
  ApplicationCommandType,
  ApplicationIntegrationType,
  ComponentType,
  InteractionContextType,
  InteractionResponseType,
  InteractionType,
  Locale,
  PermissionFlagsBits,
} from 'discord-api-types/v10';
import type { AttachmentStore } from './attachments.js';
import type { CommandRegistry } from './commands.js';
import { findComponent } from './components.js';
import { DiscordErrorCode, HttpError, invalidFormBody, notFound } from './errors.js';
import {
  type InteractionCallback,
  type InteractionEvent,
  InteractionHandle,
  type InteractionRecord,
} from './interaction-handle.js';
import {
  type AutocompleteInvocation,
  buildOptions,
  type ComponentInvocation,
  checkSelectValues,
  InvocationError,
  ResolvedCollector,
  type SlashInvocation,
} from './interaction-options.js';
import { createResponseMessage, editAttachments, isAllowedResponse } from './interaction-replies.js';
import { WaitableLog, type WaitOptions } from './log.js';
import { editFromBody, parseMessageBody } from './message-body.js';
import { filesOf } from './multipart.js';
import { has } from './permissions.js';
import type { MessageRecord, World } from './world.js';

/** Interaction tokens (and so follow-ups and edits) stay valid for 15 minutes. */
const TOKEN_LIFETIME_MS = 15 * 60_000;

export type { InteractionCallback, InteractionHandle, InteractionRecord } from './interaction-handle.js';
export type {
  AutocompleteInvocation,
  ComponentInvocation,
  OptionValue,
  SlashInvocation,
} from './interaction-options.js';
export { InvocationError } from './interaction-options.js';

/**
 * Creates interactions and enforces Discord's response rules: one acknowledgement (40060 after), within
 * the deadline (10062 after, measured with Date.now so fake time applies), then edits and follow-ups.
 */
export class InteractionManager {
  readonly events = new WaitableLog<InteractionEvent>();
  readonly #interactions = new Map<string, InteractionRecord>();
  /** Webhook requests name the interaction by token alone; looked up per request, so indexed. */
  readonly #byToken = new Map<string, InteractionRecord>();

  constructor(
    readonly world: World,
    private readonly commands: CommandRegistry,
    private readonly sendToGateway: (payload: APIInteraction) => void,
    private readonly deadlineMs: number,
    readonly attachments: AttachmentStore,
  ) {}

  invokeSlash(invocation: SlashInvocation): InteractionHandle {
    const record = this.#create(InteractionType.ApplicationCommand, invocation, null);
    return new InteractionHandle(this, record);
  }

  /**
   * A user clicks a button or picks from a string select on one of the bot's messages: validates as
   * Discord's client would (throws InvocationError) and sends INTERACTION_CREATE type 3.
   */
  invokeComponent(invocation: ComponentInvocation): InteractionHandle {
    const { world } = this;
    let source: MessageRecord;
    try {
      source = world.message(invocation.message);
    } catch {
      throw new InvocationError(`message ${invocation.message} does not exist`);
    }
    const { message } = source;
    if (message.author.id !== world.botUser.id)
      throw new InvocationError(`message ${message.id} was not sent by the bot`);
    const guild = world.guild(source.guildId);
    if (!guild.members.has(invocation.user))
      throw new InvocationError(`user ${invocation.user} is not a member of ${guild.name}`);
    if (!guild.members.has(world.botUser.id))
      throw new InvocationError(`the bot is not in guild ${guild.name}`);
    if (source.ephemeral && message.interaction_metadata?.user.id !== invocation.user)
      throw new InvocationError(`message ${message.id} is ephemeral: only its recipient sees it`);
    const channelId = message.channel_id;
    if (!has(world.permissionsOf(guild.id, invocation.user, channelId), PermissionFlagsBits.ViewChannel))
      throw new InvocationError(`user ${invocation.user} cannot see channel ${channelId}`);
    const component = findComponent(message.components ?? [], invocation.customId);
    if (!component)
      throw new InvocationError(
        `message ${message.id} has no component with custom_id "${invocation.customId}"`,
      );
    if (component.disabled) throw new InvocationError(`component "${invocation.customId}" is disabled`);
    let values: string[] | undefined;
    if (component.type === ComponentType.Button) {
      if (invocation.values !== undefined)
        throw new InvocationError(`component "${invocation.customId}" is a button: it takes no values`);
    } else if (component.type === ComponentType.StringSelect) {
      values = checkSelectValues(component, invocation);
    } else {
      throw new InvocationError(
        `component "${invocation.customId}" has type ${component.type}, which the emulator cannot invoke`,
      );
    }
    const { id, token, envelope } = this.#envelope(guild.id, channelId, invocation.user, invocation.locale);
    const payload = {
      ...envelope,
      type: InteractionType.MessageComponent,
      message: structuredClone(message),
      data: {
        custom_id: component.custom_id,
        component_type: component.type,
        ...(values !== undefined ? { values } : {}),
      },
    } as unknown as APIInteraction;
    const record = this.#register(id, token, InteractionType.MessageComponent, payload, message.id);
    return new InteractionHandle(this, record);
  }

  /** Sends an autocomplete interaction and resolves with the choices the bot answered. */
  async invokeAutocomplete(
    invocation: AutocompleteInvocation,
    options?: WaitOptions,
  ): Promise<APIApplicationCommandOptionChoice[]> {
    const record = this.#create(InteractionType.ApplicationCommandAutocomplete, invocation, invocation);
    const callback = await this.waitForCallback(record.id, options);
    const data = callback.data as { choices?: APIApplicationCommandOptionChoice[] } | undefined;
    return data?.choices ?? [];
  }

  interaction(id: string): InteractionRecord {
    const record = this.#interactions.get(id);
    if (!record) throw notFound(DiscordErrorCode.UnknownInteraction, 'interaction');
    return record;
  }

  waitForCallback(interactionId: string, options?: WaitOptions): Promise<InteractionCallback> {
    return this.events
      .waitFor(
        (e) => e.kind === 'callback' && e.interactionId === interactionId,
        `a response to interaction ${interactionId}`,
        options,
      )
      .then((e) => (e as Extract<InteractionEvent, { kind: 'callback' }>).callback);
  }

  waitForMessage(
    interactionId: string,
    kind: 'original' | 'followUp',
    predicate: (message: APIMessage) => boolean,
    options?: WaitOptions,
  ): Promise<APIMessage> {
    return this.events
      .waitFor(
        (e) =>
          e.kind !== 'callback' &&
          e.kind === kind &&
          e.interactionId === interactionId &&
          predicate(e.message),
        `${kind} message of interaction ${interactionId}`,
        options,
      )
      .then((e) => (e as Exclude<InteractionEvent, { kind: 'callback' }>).message);
  }

  originalOf(record: InteractionRecord): APIMessage | null {
    return record.originalMessageId ? this.world.message(record.originalMessageId).message : null;
  }

  // ---- REST side ---------------------------------------------------------------------------------

  /** POST /interactions/:id/:token/callback */
  acknowledge(
    id: string,
    token: string,
    body: unknown,
  ): { record: InteractionRecord; message: APIMessage | null } {
    const record = this.#interactions.get(id);
    if (!record || record.token !== token) throw notFound(DiscordErrorCode.UnknownInteraction, 'interaction');
    const response =
      typeof body === 'object' && body !== null ? (body as { type?: unknown; data?: unknown }) : {};
    const reject = (error: HttpError): never => {
      record.rejectedCallbacks.push({
        status: error.status,
        code: error.code,
        type: response.type,
        at: Date.now(),
      });
      throw error;
    };
    if (Date.now() - record.createdAtMs > this.deadlineMs)
      reject(notFound(DiscordErrorCode.UnknownInteraction, 'interaction'));
    if (record.callback) {
      reject(
        new HttpError(
          400,
          DiscordErrorCode.InteractionAlreadyAcknowledged,
          'Interaction has already been acknowledged.',
        ),
      );
    }
    const type = response.type;
    if (!isAllowedResponse(record.type, type)) {
      return reject(
        invalidFormBody(
          'type',
          'INTERACTION_RESPONSE_TYPE_INVALID',
          `Response type ${String(type)} is invalid here`,
        ),
      );
    }
    const callback: InteractionCallback = { type, data: response.data, at: Date.now() };
    let message: APIMessage | null = null;
    if (type === InteractionResponseType.ChannelMessageWithSource) {
      message = createResponseMessage(
        this.world,
        this.attachments,

        record,
        parseMessageBody(response.data),
        false,
        filesOf(body),
      ).message;
    } else if (type === InteractionResponseType.DeferredChannelMessageWithSource) {
      const flags = parseMessageBody(response.data).flags ?? 0;
      message = createResponseMessage(
        this.world,
        this.attachments,
        record,
        { content: '', flags },
        true,
      ).message;
    } else if (type === InteractionResponseType.UpdateMessage) {
      editAttachments(
        this.attachments,
        this.world.message(record.sourceMessageId!),
        response.data,
        filesOf(body),
      );
      message = this.world.editMessage(
        record.sourceMessageId!,
        editFromBody(parseMessageBody(response.data)),
      ).message;
      record.originalMessageId = record.sourceMessageId;
    } else if (type === InteractionResponseType.DeferredMessageUpdate) {
      // The source message stays as it is until `PATCH @original` edits it.
      this.world.message(record.sourceMessageId!);
      record.originalMessageId = record.sourceMessageId;
    }
    record.callback = callback;
    this.events.push({ kind: 'callback', interactionId: id, callback });
    if (message) this.events.push({ kind: 'original', interactionId: id, message: structuredClone(message) });
    return { record, message };
  }

  /** Resolves an interaction webhook (application id + token) to its record, checking expiry. */
  byWebhook(applicationId: string, token: string): InteractionRecord {
    const record = this.#byToken.get(token);
    if (!record || applicationId !== this.world.applicationId)
      throw notFound(DiscordErrorCode.UnknownWebhook, 'Webhook');
    if (Date.now() - record.createdAtMs > TOKEN_LIFETIME_MS) {
      throw new HttpError(401, DiscordErrorCode.InvalidWebhookToken, 'Invalid Webhook Token');
    }
    return record;
  }

  /** The message behind `@original` or a follow-up id, for GET/PATCH/DELETE on the webhook. */
  webhookMessage(record: InteractionRecord, messageId: string): MessageRecord {
    const id = messageId === '@original' ? record.originalMessageId : messageId;
    if (!id || (id !== record.originalMessageId && !record.followUpIds.includes(id))) {
      throw notFound(DiscordErrorCode.UnknownMessage, 'Message');
    }
    return this.world.message(id);
  }

  editWebhookMessage(record: InteractionRecord, messageId: string, body: unknown): APIMessage {
    const target = this.webhookMessage(record, messageId);
    editAttachments(this.attachments, target, body, filesOf(body));
    const edited = this.world.editMessage(target.message.id, editFromBody(parseMessageBody(body)));
    const kind = target.message.id === record.originalMessageId ? 'original' : 'followUp';
    this.events.push({ kind, interactionId: record.id, message: structuredClone(edited.message) });
    return edited.message;
  }

  followUp(record: InteractionRecord, body: unknown): APIMessage {
    if (!record.callback) throw notFound(DiscordErrorCode.UnknownWebhook, 'Webhook');
    const created = createResponseMessage(
      this.world,
      this.attachments,
      record,
      parseMessageBody(body),
      false,
      filesOf(body),
    );
    record.followUpIds.push(created.message.id);
    this.events.push({
      kind: 'followUp',
      interactionId: record.id,
      message: structuredClone(created.message),
    });
    return created.message;
  }

  // ---- internals ---------------------------------------------------------------------------------

  /** What every guild interaction carries: ids, token, guild, channel, member and app permissions, locales. */
  #envelope(
    guildId: string,
    channelId: string,
    userId: string,
    locale: Locale | undefined,
  ): { id: string; token: string; envelope: Record<string, unknown> } {
    const { world } = this;
    const id = world.snowflakes.next();
    const token = `aW50ZXJhY3Rpb24:${id}:${randomBytes(24).toString('base64url')}`;
    const memberPermissions = world.permissionsOf(guildId, userId, channelId);
    const envelope = {
      id,
      application_id: world.applicationId,
      token,
      version: 1,
      guild_id: guildId,
      guild: { id: guildId, locale: Locale.EnglishUS, features: [] },
      channel_id: channelId,
      channel: { ...world.apiChannel(channelId), permissions: memberPermissions.toString() },
      member: { ...world.apiMember(guildId, userId), permissions: memberPermissions.toString() },
      app_permissions: world.permissionsOf(guildId, world.botUser.id, channelId).toString(),
      locale: locale ?? Locale.EnglishUS,
      guild_locale: Locale.EnglishUS,
      entitlements: [],
      authorizing_integration_owners: { [ApplicationIntegrationType.GuildInstall]: guildId },
      context: InteractionContextType.Guild,
      attachment_size_limit: 10 * 1024 * 1024,
    };
    return { id, token, envelope };
  }

  #register(
    id: string,
    token: string,
    type: InteractionType,
    payload: APIInteraction,
    sourceMessageId: string | null,
  ): InteractionRecord {
    const record: InteractionRecord = {
      id,
      token,
      type,
      payload,
      createdAtMs: Date.now(),
      callback: null,
      rejectedCallbacks: [],
      originalMessageId: null,
      followUpIds: [],
      sourceMessageId,
    };
    this.#interactions.set(id, record);
    this.#byToken.set(token, record);
    this.sendToGateway(payload);
    return record;
  }

  #create(
    type: InteractionType.ApplicationCommand | InteractionType.ApplicationCommandAutocomplete,
    invocation: SlashInvocation,
    autocomplete: AutocompleteInvocation | null,
  ): InteractionRecord {
    const { world } = this;
    const guild = world.guild(invocation.guild);
    const channel = world.channel(invocation.channel);
    if (channel.guildId !== guild.id)
      throw new InvocationError(`channel ${channel.name} is not in guild ${guild.name}`);
    if (!guild.members.has(invocation.user))
      throw new InvocationError(`user ${invocation.user} is not a member of ${guild.name}`);
    if (!guild.members.has(world.botUser.id))
      throw new InvocationError(`the bot is not in guild ${guild.name}`);
    const command = this.commands.resolveChatInput(guild.id, invocation.command);
    if (!command)
      throw new InvocationError(`/${invocation.command} is not registered (globally or in ${guild.name})`);
    const memberPermissions = world.permissionsOf(guild.id, invocation.user, channel.id);
    if (
      command.default_member_permissions !== null &&
      !invocation.ignoreDefaultMemberPermissions &&
      !has(memberPermissions, BigInt(command.default_member_permissions))
    ) {
      throw new InvocationError(
        `/${command.name} needs permissions ${command.default_member_permissions}, which the user lacks (Discord hides it)`,
      );
    }
    const resolved = new ResolvedCollector(world, this.attachments, guild.id, channel.id);
    const options = buildOptions(command, invocation, autocomplete, resolved);
    const { id, token, envelope } = this.#envelope(guild.id, channel.id, invocation.user, invocation.locale);
    const payload = {
      ...envelope,
      type,
      data: {
        id: command.id,
        name: command.name,
        type: ApplicationCommandType.ChatInput,
        guild_id: command.guild_id,
        options,
        ...(resolved.isEmpty() ? {} : { resolved: resolved.toJSON() }),
      },
    } as unknown as APIInteraction;
    return this.#register(id, token, type, payload, null);
  }
}
