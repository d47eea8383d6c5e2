import { randomBytes } from 'node:crypto';
import {
  type APIAllowedMentions,
  type APIApplicationCommand,
  type APIApplicationCommandInteractionDataOption,
  type APIApplicationCommandOptionChoice,
  type APIEmbed,
  type APIInteraction,
  type APIMessage,
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  InteractionContextType,
  InteractionResponseType,
  InteractionType,
  Locale,
  MessageFlags,
  MessageType,
} from 'discord-api-types/v10';
import type { CommandRegistry, OptionShape } from './commands.js';
import { DiscordErrorCode, HttpError, invalidFormBody, notFound } from './errors.js';
import { WaitableLog, type WaitOptions } from './log.js';
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
  /** Callbacks refused with 40060 or 10062, for assertions. */
  rejectedCallbacks: { status: number; code: number; type: unknown; at: number }[];
  originalMessageId: string | null;
  followUpIds: string[];
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
      throw invalidFormBody(
        'type',
        'INTERACTION_RESPONSE_TYPE_INVALID',
        `Response type ${String(type)} is invalid here`,
      );
    }
    const callback: InteractionCallback = { type, data: response.data, at: Date.now() };
    let message: APIMessage | null = null;
    if (type === InteractionResponseType.ChannelMessageWithSource) {
      message = this.#createResponseMessage(record, messageBody(response.data), false).message;
    } else if (type === InteractionResponseType.DeferredChannelMessageWithSource) {
      const flags = messageBody(response.data).flags ?? 0;
      message = this.#createResponseMessage(record, { content: '', flags }, true).message;
    }
    record.callback = callback;
    this.events.push({ kind: 'callback', interactionId: id, callback });
    if (message) this.events.push({ kind: 'original', interactionId: id, message: structuredClone(message) });
    return { record, message };
  }

  /** Resolves an interaction webhook (application id + token) to its record, checking expiry. */
  byWebhook(applicationId: string, token: string): InteractionRecord {
    const record = [...this.#interactions.values()].find((r) => r.token === token);
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
    const patch = messageBody(body);
    const edited = this.world.editMessage(target.message.id, {
      ...(patch.content !== undefined ? { content: patch.content } : {}),
      ...(patch.embeds !== undefined ? { embeds: patch.embeds } : {}),
      ...(patch.allowed_mentions !== undefined ? { allowedMentions: patch.allowed_mentions } : {}),
    });
    const kind = target.message.id === record.originalMessageId ? 'original' : 'followUp';
    this.events.push({ kind, interactionId: record.id, message: structuredClone(edited.message) });
    return edited.message;
  }

  followUp(record: InteractionRecord, body: unknown): APIMessage {
    if (!record.callback) throw notFound(DiscordErrorCode.UnknownWebhook, 'Webhook');
    const created = this.#createResponseMessage(record, messageBody(body), false);
    record.followUpIds.push(created.message.id);
    this.events.push({
      kind: 'followUp',
      interactionId: record.id,
      message: structuredClone(created.message),
    });
    return created.message;
  }

  // ---- internals ---------------------------------------------------------------------------------

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
    const id = world.snowflakes.next();
    const token = `aW50ZXJhY3Rpb24:${id}:${randomBytes(24).toString('base64url')}`;
    const member = world.apiMember(guild.id, invocation.user);
    const payload = {
      id,
      application_id: world.applicationId,
      type,
      token,
      version: 1,
      guild_id: guild.id,
      guild: { id: guild.id, locale: Locale.EnglishUS, features: [] },
      channel_id: channel.id,
      channel: { ...world.apiChannel(channel.id), permissions: memberPermissions.toString() },
      member: { ...member, permissions: memberPermissions.toString() },
      app_permissions: world.permissionsOf(guild.id, world.botUser.id, channel.id).toString(),
      locale: invocation.locale ?? Locale.EnglishUS,
      guild_locale: Locale.EnglishUS,
      entitlements: [],
      authorizing_integration_owners: { [ApplicationIntegrationType.GuildInstall]: guild.id },
      context: InteractionContextType.Guild,
      attachment_size_limit: 10 * 1024 * 1024,
      data: {
        id: command.id,
        name: command.name,
        type: ApplicationCommandType.ChatInput,
        guild_id: command.guild_id,
        options,
        ...(resolved.isEmpty() ? {} : { resolved: resolved.toJSON() }),
      },
    } as unknown as APIInteraction;
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
    };
    this.#interactions.set(id, record);
    this.sendToGateway(payload);
    return record;
  }

  #createResponseMessage(record: InteractionRecord, body: MessageBody, deferred: boolean): MessageRecord {
    const flags = body.flags ?? 0;
    const ephemeral = (flags & MessageFlags.Ephemeral) !== 0;
    const payload = record.payload as { channel_id?: string; member?: { user: { id: string } } };
    if (!deferred && !body.content && !body.embeds?.length && !body.components?.length) {
      throw new HttpError(400, DiscordErrorCode.CannotSendEmptyMessage, 'Cannot send an empty message');
    }
    const created = this.world.createMessage({
      channel: payload.channel_id!,
      author: this.world.botUser.id,
      content: body.content ?? '',
      ...(body.embeds ? { embeds: body.embeds } : {}),
      ...(body.allowed_mentions ? { allowedMentions: body.allowed_mentions } : {}),
      flags:
        (flags & (MessageFlags.Ephemeral | MessageFlags.SuppressEmbeds)) |
        (deferred ? MessageFlags.Loading : 0),
      ephemeral,
      type: record.callback || record.originalMessageId ? MessageType.Default : MessageType.ChatInputCommand,
      webhookId: this.world.applicationId,
      applicationId: this.world.applicationId,
      interactionMetadata: {
        id: record.id,
        type: InteractionType.ApplicationCommand,
        user: this.world.apiUser(payload.member!.user.id),
        authorizing_integration_owners: {
          [ApplicationIntegrationType.GuildInstall]: record.payload.guild_id ?? '',
        },
      } as MessageRecord['message']['interaction_metadata'] & object,
    });
    if (!record.originalMessageId) record.originalMessageId = created.message.id;
    return created;
  }
}

interface MessageBody {
  content?: string;
  embeds?: APIEmbed[];
  components?: unknown[];
  flags?: number;
  allowed_mentions?: APIAllowedMentions;
}

function messageBody(data: unknown): MessageBody {
  if (typeof data !== 'object' || data === null) return {};
  const body = data as MessageBody;
  if (body.content !== undefined && body.content !== null && body.content.length > 2000) {
    throw invalidFormBody('content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
  }
  return body;
}

function isAllowedResponse(interaction: InteractionType, type: unknown): type is InteractionResponseType {
  if (interaction === InteractionType.ApplicationCommandAutocomplete) {
    return type === InteractionResponseType.ApplicationCommandAutocompleteResult;
  }
  return (
    type === InteractionResponseType.ChannelMessageWithSource ||
    type === InteractionResponseType.DeferredChannelMessageWithSource ||
    type === InteractionResponseType.Modal
  );
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
