import { randomBytes } from 'node:crypto';
import {
  type APIApplicationCommand,
  type APIApplicationCommandInteractionDataOption,
  type APIApplicationCommandOptionChoice,
  type APIInteraction,
  type APIMessage,
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  ComponentType,
  InteractionContextType,
  InteractionResponseType,
  InteractionType,
  Locale,
  MessageFlags,
  MessageType,
  PermissionFlagsBits,
} from 'discord-api-types/v10';
import type { CommandRegistry, OptionShape } from './commands.js';
import { findComponent } from './components.js';
import { DiscordErrorCode, HttpError, invalidFormBody, notFound } from './errors.js';
import { WaitableLog, type WaitOptions } from './log.js';
import { editFromBody, type MessageBody, parseMessageBody, requireSomethingToSend } from './message-body.js';
import { has } from './permissions.js';
import type { MessageRecord, World } from './world.js';

/** Interaction tokens (and so follow-ups and edits) stay valid for 15 minutes. */
const TOKEN_LIFETIME_MS = 15 * 60_000;

export type OptionValue = string | number | boolean;

export interface SlashInvocation {
  user: string;
  guild: string;
  channel: string;
  command: string;
  group?: string;
  subcommand?: string;
  options?: Record<string, OptionValue>;
  locale?: Locale;
  /** Invoke even if the user lacks the command's default_member_permissions (Discord would hide it). */
  ignoreDefaultMemberPermissions?: boolean;
}

export interface AutocompleteInvocation extends SlashInvocation {
  /** The option being typed; its value is the text typed so far. */
  focused: string;
  value: string;
}

/** A user clicking a button or picking from a select menu on a message the bot sent. */
export interface ComponentInvocation {
  user: string;
  /** Id of the message holding the component. */
  message: string;
  customId: string;
  /** For a string select: the picked option values (each one of its options, within min/max_values). */
  values?: string[];
  locale?: Locale;
}

/** Thrown to the test when an invocation could not happen in Discord (unknown command, bad option…). */
export class InvocationError extends Error {
  override name = 'InvocationError';
}

export interface InteractionCallback {
  type: InteractionResponseType;
  data: unknown;
  at: number;
}

export interface InteractionRecord {
  id: string;
  token: string;
  type: InteractionType;
  payload: APIInteraction;
  createdAtMs: number;
  callback: InteractionCallback | null;
  /** Callbacks refused (40060, 10062, or 50035 for a response type invalid here), for assertions. */
  rejectedCallbacks: { status: number; code: number; type: unknown; at: number }[];
  /**
   * The reply message, or for a component interaction answered with an update (7) or deferred update (6),
   * the message holding the component: what `@original` then edits.
   */
  originalMessageId: string | null;
  followUpIds: string[];
  /** For a component interaction, the message holding the component. */
  sourceMessageId: string | null;
}

type InteractionEvent =
  | { kind: 'callback'; interactionId: string; callback: InteractionCallback }
  | { kind: 'original' | 'followUp'; interactionId: string; message: APIMessage };

const isSettled = (message: APIMessage): boolean => ((message.flags ?? 0) & MessageFlags.Loading) === 0;

/** What a test holds after invoking a command: the interaction and ways to await the bot's answer. */
export class InteractionHandle {
  constructor(
    private readonly manager: InteractionManager,
    readonly record: InteractionRecord,
  ) {}

  get id(): string {
    return this.record.id;
  }

  get token(): string {
    return this.record.token;
  }

  /** The bot's acknowledgement (reply, defer, update, autocomplete result, modal). */
  waitForAck(options?: WaitOptions): Promise<InteractionCallback> {
    return this.manager.waitForCallback(this.id, options);
  }

  /**
   * The original response once it is a real message (after reply, or after the edit that follows a defer),
   * and satisfies the predicate. Ephemeral replies are included: check `flags & MessageFlags.Ephemeral`.
   * For a component interaction answered with update (or deferUpdate and an edit), the source message as
   * edited.
   */
  waitForReply(
    predicate: (message: APIMessage) => boolean = () => true,
    options?: WaitOptions,
  ): Promise<APIMessage> {
    return this.manager.waitForMessage(this.id, 'original', (m) => isSettled(m) && predicate(m), options);
  }

  waitForFollowUp(
    predicate: (message: APIMessage) => boolean = () => true,
    options?: WaitOptions,
  ): Promise<APIMessage> {
    return this.manager.waitForMessage(this.id, 'followUp', predicate, options);
  }

  /** The original response as it is now, or null. */
  original(): APIMessage | null {
    return this.manager.originalOf(this.record);
  }

  followUps(): APIMessage[] {
    return this.record.followUpIds.map((id) => this.manager.world.message(id).message);
  }

  get ephemeral(): boolean {
    const original = this.original();
    return original !== null && ((original.flags ?? 0) & MessageFlags.Ephemeral) !== 0;
  }
}

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
      message = this.#createResponseMessage(record, parseMessageBody(response.data), false).message;
    } else if (type === InteractionResponseType.DeferredChannelMessageWithSource) {
      const flags = parseMessageBody(response.data).flags ?? 0;
      message = this.#createResponseMessage(record, { content: '', flags }, true).message;
    } else if (type === InteractionResponseType.UpdateMessage) {
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
    const edited = this.world.editMessage(target.message.id, editFromBody(parseMessageBody(body)));
    const kind = target.message.id === record.originalMessageId ? 'original' : 'followUp';
    this.events.push({ kind, interactionId: record.id, message: structuredClone(edited.message) });
    return edited.message;
  }

  followUp(record: InteractionRecord, body: unknown): APIMessage {
    if (!record.callback) throw notFound(DiscordErrorCode.UnknownWebhook, 'Webhook');
    const created = this.#createResponseMessage(record, parseMessageBody(body), false);
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
    const resolved = new ResolvedCollector(world, guild.id, channel.id);
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

  #createResponseMessage(record: InteractionRecord, body: MessageBody, deferred: boolean): MessageRecord {
    const flags = body.flags ?? 0;
    const ephemeral = (flags & MessageFlags.Ephemeral) !== 0;
    const payload = record.payload as { channel_id?: string; member?: { user: { id: string } } };
    if (!deferred) requireSomethingToSend(body);
    const created = this.world.createMessage({
      channel: payload.channel_id!,
      author: this.world.botUser.id,
      content: body.content ?? '',
      ...(body.embeds ? { embeds: body.embeds } : {}),
      ...(body.components ? { components: body.components } : {}),
      ...(body.allowed_mentions ? { allowedMentions: body.allowed_mentions } : {}),
      flags:
        (flags & (MessageFlags.Ephemeral | MessageFlags.SuppressEmbeds)) |
        (deferred ? MessageFlags.Loading : 0),
      ephemeral,
      type:
        record.type === InteractionType.ApplicationCommand && !record.callback && !record.originalMessageId
          ? MessageType.ChatInputCommand
          : MessageType.Default,
      webhookId: this.world.applicationId,
      applicationId: this.world.applicationId,
      interactionMetadata: {
        id: record.id,
        type: record.type,
        user: this.world.apiUser(payload.member!.user.id),
        authorizing_integration_owners: {
          [ApplicationIntegrationType.GuildInstall]: record.payload.guild_id ?? '',
        },
        ...(record.sourceMessageId ? { interacted_message_id: record.sourceMessageId } : {}),
      } as MessageRecord['message']['interaction_metadata'] & object,
    });
    if (!record.originalMessageId) record.originalMessageId = created.message.id;
    return created;
  }
}

function isAllowedResponse(interaction: InteractionType, type: unknown): type is InteractionResponseType {
  if (interaction === InteractionType.ApplicationCommandAutocomplete) {
    return type === InteractionResponseType.ApplicationCommandAutocompleteResult;
  }
  // Updating the message in place only makes sense where there is one: a component's.
  if (
    interaction === InteractionType.MessageComponent &&
    (type === InteractionResponseType.UpdateMessage || type === InteractionResponseType.DeferredMessageUpdate)
  ) {
    return true;
  }
  return (
    type === InteractionResponseType.ChannelMessageWithSource ||
    type === InteractionResponseType.DeferredChannelMessageWithSource ||
    type === InteractionResponseType.Modal
  );
}

/** A string select's picked values: each one of its options, no repeats, within min/max_values. */
function checkSelectValues(
  component: NonNullable<ReturnType<typeof findComponent>>,
  invocation: ComponentInvocation,
): string[] {
  const where = `select "${invocation.customId}"`;
  const values = invocation.values;
  if (values === undefined) throw new InvocationError(`${where}: values are required`);
  const min = component.min_values ?? 1;
  const max = component.max_values ?? 1;
  if (values.length < min || values.length > max)
    throw new InvocationError(`${where}: takes ${min}-${max} values, got ${values.length}`);
  if (new Set(values).size !== values.length) throw new InvocationError(`${where}: values repeat`);
  const allowed = new Set((component.options ?? []).map((o) => o.value));
  const unknown = values.filter((v) => !allowed.has(v));
  if (unknown.length > 0)
    throw new InvocationError(
      `${where}: ${unknown.map((v) => JSON.stringify(v)).join(', ')} not among its options (${[...allowed].join(', ')})`,
    );
  return [...values];
}

/** Collects the `resolved` users/members/roles/channels referenced by options, as Discord sends them. */
class ResolvedCollector {
  readonly users: Record<string, unknown> = {};
  readonly members: Record<string, unknown> = {};
  readonly roles: Record<string, unknown> = {};
  readonly channels: Record<string, unknown> = {};

  constructor(
    readonly world: World,
    private readonly guildId: string,
    private readonly channelId: string,
  ) {}

  user(id: string): void {
    this.users[id] = this.world.apiUser(id);
    if (this.world.guild(this.guildId).members.has(id)) {
      const { user: _user, ...member } = this.world.apiMember(this.guildId, id);
      this.members[id] = {
        ...member,
        permissions: this.world.permissionsOf(this.guildId, id, this.channelId).toString(),
      };
    }
  }

  role(id: string): void {
    this.roles[id] = this.world.apiRole(id);
  }

  channel(id: string, invoker: string): void {
    const channel = this.world.apiChannel(id);
    this.channels[id] = {
      id,
      name: 'name' in channel ? channel.name : null,
      type: channel.type,
      permissions: this.world.permissionsOf(this.guildId, invoker, id).toString(),
      ...('parent_id' in channel ? { parent_id: channel.parent_id } : {}),
    };
  }

  isEmpty(): boolean {
    return [this.users, this.roles, this.channels].every((r) => Object.keys(r).length === 0);
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries({
      users: this.users,
      members: this.members,
      roles: this.roles,
      channels: this.channels,
    })) {
      if (Object.keys(value).length > 0) out[key] = value;
    }
    return out;
  }
}

/** Validates an invocation against the registered command and builds `data.options` as Discord would. */
function buildOptions(
  command: APIApplicationCommand,
  invocation: SlashInvocation,
  autocomplete: AutocompleteInvocation | null,
  resolved: ResolvedCollector,
): APIApplicationCommandInteractionDataOption[] {
  const top = (command.options ?? []) as OptionShape[];
  const where = `/${[command.name, invocation.group, invocation.subcommand].filter(Boolean).join(' ')}`;
  const isSub = (o: OptionShape) =>
    o.type === ApplicationCommandOptionType.Subcommand ||
    o.type === ApplicationCommandOptionType.SubcommandGroup;
  let leafDefinitions = top;
  let wrap = (leaf: APIApplicationCommandInteractionDataOption[]) => leaf;
  if (invocation.group !== undefined) {
    const group = top.find(
      (o) => o.type === ApplicationCommandOptionType.SubcommandGroup && o.name === invocation.group,
    );
    if (!group) throw new InvocationError(`${where}: no subcommand group "${invocation.group}"`);
    const sub = (group.options ?? []).find((o) => o.name === invocation.subcommand);
    if (!sub)
      throw new InvocationError(
        `${where}: no subcommand "${invocation.subcommand}" in group "${group.name}"`,
      );
    leafDefinitions = sub.options ?? [];
    wrap = (leaf) =>
      [
        {
          type: ApplicationCommandOptionType.SubcommandGroup,
          name: group.name,
          options: [{ type: ApplicationCommandOptionType.Subcommand, name: sub.name, options: leaf }],
        },
      ] as APIApplicationCommandInteractionDataOption[];
  } else if (invocation.subcommand !== undefined) {
    const sub = top.find(
      (o) => o.type === ApplicationCommandOptionType.Subcommand && o.name === invocation.subcommand,
    );
    if (!sub) throw new InvocationError(`${where}: no subcommand "${invocation.subcommand}"`);
    leafDefinitions = sub.options ?? [];
    wrap = (leaf) =>
      [
        { type: ApplicationCommandOptionType.Subcommand, name: sub.name, options: leaf },
      ] as APIApplicationCommandInteractionDataOption[];
  } else if (top.some(isSub)) {
    throw new InvocationError(`${where}: a subcommand is required`);
  }

  const given = { ...(invocation.options ?? {}) };
  const leaf: APIApplicationCommandInteractionDataOption[] = [];
  if (autocomplete) {
    const focused = leafDefinitions.find((o) => o.name === autocomplete.focused);
    if (!focused) throw new InvocationError(`${where}: no option "${autocomplete.focused}" to autocomplete`);
    if (!focused.autocomplete)
      throw new InvocationError(`${where}: option "${focused.name}" has no autocomplete`);
    delete given[focused.name];
    leaf.push({
      type: focused.type,
      name: focused.name,
      value: autocomplete.value,
      focused: true,
    } as APIApplicationCommandInteractionDataOption);
  }
  for (const [name, value] of Object.entries(given)) {
    const definition = leafDefinitions.find((o) => o.name === name);
    if (!definition || isSub(definition)) throw new InvocationError(`${where}: unknown option "${name}"`);
    checkOptionValue(where, definition, value, resolved, invocation.user);
    leaf.push({ type: definition.type, name, value } as APIApplicationCommandInteractionDataOption);
  }
  if (!autocomplete) {
    const missing = leafDefinitions.filter((o) => o.required && !(o.name in given));
    if (missing.length > 0)
      throw new InvocationError(
        `${where}: missing required option(s) ${missing.map((o) => o.name).join(', ')}`,
      );
  }
  return wrap(leaf);
}

function checkOptionValue(
  where: string,
  definition: OptionShape,
  value: OptionValue,
  resolved: ResolvedCollector,
  invoker: string,
): void {
  function fail(why: string): never {
    throw new InvocationError(`${where}: option "${definition.name}" ${why}`);
  }
  const { world } = resolved;
  switch (definition.type) {
    case ApplicationCommandOptionType.String:
      if (typeof value !== 'string') fail('expects a string');
      if (definition.min_length !== undefined && value.length < definition.min_length)
        fail(`is shorter than ${definition.min_length}`);
      if (definition.max_length !== undefined && value.length > definition.max_length)
        fail(`is longer than ${definition.max_length}`);
      break;
    case ApplicationCommandOptionType.Integer:
    case ApplicationCommandOptionType.Number:
      if (typeof value !== 'number' || !Number.isFinite(value)) fail('expects a number');
      if (definition.type === ApplicationCommandOptionType.Integer && !Number.isInteger(value))
        fail('expects an integer');
      if (definition.min_value !== undefined && value < definition.min_value)
        fail(`is below ${definition.min_value}`);
      if (definition.max_value !== undefined && value > definition.max_value)
        fail(`is above ${definition.max_value}`);
      break;
    case ApplicationCommandOptionType.Boolean:
      if (typeof value !== 'boolean') fail('expects a boolean');
      break;
    case ApplicationCommandOptionType.User:
      if (typeof value !== 'string' || !world.hasUser(value)) fail('expects the id of an existing user');
      resolved.user(value);
      break;
    case ApplicationCommandOptionType.Channel: {
      if (typeof value !== 'string') fail('expects a channel id');
      const channel = world.channel(value);
      if (definition.channel_types?.length && !definition.channel_types.includes(channel.type))
        fail(`does not accept channel type ${channel.type}`);
      resolved.channel(value, invoker);
      break;
    }
    case ApplicationCommandOptionType.Role:
      if (typeof value !== 'string') fail('expects a role id');
      world.role(value);
      resolved.role(value);
      break;
    case ApplicationCommandOptionType.Mentionable:
      if (typeof value !== 'string') fail('expects a user or role id');
      if (world.hasUser(value)) resolved.user(value);
      else resolved.role(value);
      break;
    default:
      fail(`has type ${definition.type}, which the emulator cannot invoke`);
  }
  if (definition.choices?.length && !definition.choices.some((c) => c.value === value)) {
    fail(`must be one of ${definition.choices.map((c) => JSON.stringify(c.value)).join(', ')}`);
  }
}
