// The options of a slash or autocomplete invocation: checked against the registered command as Discord's
// client would (InvocationError otherwise), built into `data.options`, and the `resolved` users, members,
// roles, channels and attachments they name.
import {
  type APIApplicationCommand,
  type APIApplicationCommandInteractionDataOption,
  ApplicationCommandOptionType,
  type Locale,
} from 'discord-api-types/v10';
import type { AttachmentStore } from './attachments.js';
import type { OptionShape } from './commands.js';
import type { findComponent } from './components.js';
import type { World } from './world.js';

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

/** Collects the `resolved` users/members/roles/channels referenced by options, as Discord sends them. */
export class ResolvedCollector {
  readonly users: Record<string, unknown> = {};
  readonly members: Record<string, unknown> = {};
  readonly roles: Record<string, unknown> = {};
  readonly channels: Record<string, unknown> = {};
  readonly attachments: Record<string, unknown> = {};

  constructor(
    readonly world: World,
    readonly files: AttachmentStore,
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

  attachment(id: string): void {
    this.attachments[id] = this.files.apiAttachment(this.files.get(id));
  }

  isEmpty(): boolean {
    return [this.users, this.roles, this.channels, this.attachments].every(
      (r) => Object.keys(r).length === 0,
    );
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries({
      users: this.users,
      members: this.members,
      roles: this.roles,
      channels: this.channels,
      attachments: this.attachments,
    })) {
      if (Object.keys(value).length > 0) out[key] = value;
    }
    return out;
  }
}

/** Validates an invocation against the registered command and builds `data.options` as Discord would. */
export function buildOptions(
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
    case ApplicationCommandOptionType.Attachment:
      // Discord's client uploads the file first; the option's value is the id of that upload.
      if (typeof value !== 'string' || !resolved.files.has(value))
        fail('expects the id of a file uploaded with emulator.uploadAttachment()');
      resolved.attachment(value);
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

export /** A string select's picked values: each one of its options, no repeats, within min/max_values. */
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
