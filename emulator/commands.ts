import {
  type APIApplicationCommand,
  type APIApplicationCommandOption,
  ApplicationCommandOptionType,
  ApplicationCommandType,
} from 'discord-api-types/v10';
import { z } from 'zod';
import { DiscordErrorCode, HttpError, notFound } from './errors.js';
import type { SnowflakeGenerator } from './snowflake.js';

const CHAT_INPUT_NAME = /^[-_'\p{Ll}\p{Lm}\p{Lo}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

/** The parts of a command option the emulator checks and uses, as Discord validates them. */
export interface OptionShape {
  type: ApplicationCommandOptionType;
  name: string;
  description: string;
  required?: boolean;
  choices?: { name: string; value: string | number }[];
  options?: OptionShape[];
  min_value?: number;
  max_value?: number;
  min_length?: number;
  max_length?: number;
  autocomplete?: boolean;
  channel_types?: number[];
}

const localizations = z.record(z.string(), z.string().nullable()).nullable().optional();

const optionSchema: z.ZodType<OptionShape> = z.lazy(() =>
  z
    .looseObject({
      type: z.enum(ApplicationCommandOptionType),
      name: z.string().regex(CHAT_INPUT_NAME, 'must be 1-32 lowercase characters'),
      name_localizations: localizations,
      description: z.string().min(1).max(100),
      description_localizations: localizations,
      required: z.boolean().optional(),
      choices: z
        .array(z.looseObject({ name: z.string().min(1).max(100), value: z.union([z.string(), z.number()]) }))
        .max(25)
        .optional(),
      options: z.array(optionSchema).max(25).optional(),
      min_value: z.number().optional(),
      max_value: z.number().optional(),
      min_length: z.number().int().min(0).max(6000).optional(),
      max_length: z.number().int().min(1).max(6000).optional(),
      autocomplete: z.boolean().optional(),
      channel_types: z.array(z.number().int()).optional(),
    })
    .refine((option) => !(option.autocomplete && option.choices?.length), {
      message: 'autocomplete and choices are mutually exclusive',
    })
    .refine((option) => requiredFirst(option.options ?? []), {
      message: 'Required options must be placed before non-required options',
      path: ['options'],
    }),
);

const commandSchema = z
  .looseObject({
    type: z.enum(ApplicationCommandType).optional(),
    name: z.string().min(1).max(32),
    name_localizations: localizations,
    description: z.string().max(100).optional(),
    description_localizations: localizations,
    options: z.array(optionSchema).max(25).optional(),
    default_member_permissions: z.string().regex(/^\d+$/).nullable().optional(),
    dm_permission: z.boolean().nullable().optional(),
    nsfw: z.boolean().optional(),
    contexts: z.array(z.number().int()).nullable().optional(),
    integration_types: z.array(z.number().int()).optional(),
  })
  .superRefine((command, ctx) => {
    const type = command.type ?? ApplicationCommandType.ChatInput;
    if (type !== ApplicationCommandType.ChatInput) return;
    if (!CHAT_INPUT_NAME.test(command.name)) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: 'Command name is invalid' });
    }
    if (!command.description) {
      ctx.addIssue({ code: 'custom', path: ['description'], message: 'This field is required' });
    }
    if (!requiredFirst(command.options ?? [])) {
      ctx.addIssue({
        code: 'custom',
        path: ['options'],
        message: 'Required options must be placed before non-required options',
      });
    }
  });

function requiredFirst(options: readonly OptionShape[]): boolean {
  const firstOptional = options.findIndex((o) => !o.required);
  return firstOptional === -1 || options.slice(firstOptional).every((o) => !o.required);
}

/** Discord's nested "Invalid Form Body" errors object, built from zod issues. */
function formBodyError(error: z.ZodError, prefix: (string | number)[] = []): HttpError {
  const errors: Record<string, unknown> = {};
  for (const issue of error.issues) {
    let node = errors;
    for (const key of [...prefix, ...issue.path]) {
      const name = String(key);
      node[name] ??= {};
      node = node[name] as Record<string, unknown>;
    }
    node._errors ??= [];
    (node._errors as { code: string; message: string }[]).push({
      code: 'BASE_TYPE_INVALID',
      message: issue.message,
    });
  }
  return new HttpError(400, DiscordErrorCode.InvalidFormBody, 'Invalid Form Body', errors);
}

/** Global (guildId null) and per-guild application commands, with Discord's overwrite/upsert rules. */
export class CommandRegistry {
  readonly #scopes = new Map<string, Map<string, APIApplicationCommand>>();

  constructor(
    private readonly applicationId: string,
    private readonly snowflakes: SnowflakeGenerator,
  ) {}

  list(guildId: string | null): APIApplicationCommand[] {
    return [...this.#scope(guildId).values()];
  }

  get(guildId: string | null, id: string): APIApplicationCommand {
    const command = this.#scope(guildId).get(id);
    if (!command) throw notFound(DiscordErrorCode.UnknownApplicationCommand, 'application command');
    return command;
  }

  /** POST: creates, or replaces the command with the same name and type (200 instead of 201). */
  upsert(guildId: string | null, body: unknown): { command: APIApplicationCommand; created: boolean } {
    const parsed = parseCommand(body);
    const existing = this.#findByName(guildId, parsed.name, parsed.type ?? ApplicationCommandType.ChatInput);
    const command = this.#build(guildId, parsed, existing?.id);
    this.#scope(guildId).set(command.id, command);
    return { command, created: existing === undefined };
  }

  edit(guildId: string | null, id: string, body: unknown): APIApplicationCommand {
    const current = this.get(guildId, id);
    const parsed = parseCommand({ ...current, ...(typeof body === 'object' && body !== null ? body : {}) });
    const command = this.#build(guildId, parsed, id);
    this.#scope(guildId).set(id, command);
    return command;
  }

  delete(guildId: string | null, id: string): void {
    this.get(guildId, id);
    this.#scope(guildId).delete(id);
  }

  /** PUT: the list becomes exactly these commands; ones with an unchanged name and type keep their id. */
  overwrite(guildId: string | null, body: unknown): APIApplicationCommand[] {
    if (!Array.isArray(body)) {
      throw new HttpError(400, DiscordErrorCode.InvalidFormBody, 'Invalid Form Body', {
        _errors: [{ code: 'BASE_TYPE_ARRAY', message: 'Must be an array' }],
      });
    }
    const parsed = body.map((entry, index) => parseCommand(entry, [index]));
    const next = new Map<string, APIApplicationCommand>();
    for (const command of parsed) {
      const existing = this.#findByName(
        guildId,
        command.name,
        command.type ?? ApplicationCommandType.ChatInput,
      );
      const built = this.#build(guildId, command, existing?.id);
      next.set(built.id, built);
    }
    this.#scopes.set(guildId ?? 'global', next);
    return [...next.values()];
  }

  /** The command a user would see in this guild: guild commands shadow global ones of the same name. */
  resolveChatInput(guildId: string, name: string): APIApplicationCommand | undefined {
    return (
      this.#findByName(guildId, name, ApplicationCommandType.ChatInput) ??
      this.#findByName(null, name, ApplicationCommandType.ChatInput)
    );
  }

  #scope(guildId: string | null): Map<string, APIApplicationCommand> {
    const key = guildId ?? 'global';
    let scope = this.#scopes.get(key);
    if (!scope) {
      scope = new Map();
      this.#scopes.set(key, scope);
    }
    return scope;
  }

  #findByName(
    guildId: string | null,
    name: string,
    type: ApplicationCommandType,
  ): APIApplicationCommand | undefined {
    return this.list(guildId).find((c) => c.name === name && c.type === type);
  }

  #build(guildId: string | null, parsed: ParsedCommand, id: string | undefined): APIApplicationCommand {
    const type = parsed.type ?? ApplicationCommandType.ChatInput;
    return {
      ...parsed,
      id: id ?? this.snowflakes.next(),
      application_id: this.applicationId,
      version: this.snowflakes.next(),
      type,
      description: parsed.description ?? '',
      options: parsed.options as APIApplicationCommandOption[] | undefined,
      default_member_permissions: parsed.default_member_permissions ?? null,
      nsfw: parsed.nsfw ?? false,
      ...(guildId ? { guild_id: guildId } : {}),
    } as APIApplicationCommand;
  }
}

type ParsedCommand = z.infer<typeof commandSchema>;

function parseCommand(body: unknown, prefix: (string | number)[] = []): ParsedCommand {
  const result = commandSchema.safeParse(body);
  if (!result.success) throw formBodyError(result.error, prefix);
  if (commandSize(result.data) > MAX_COMMAND_SIZE) throw tooLarge(prefix);
  return result.data;
}

/** Discord's cap on a command's combined name, description and choice name/value characters. */
export const MAX_COMMAND_SIZE = 8_000;

type Localizations = Record<string, string | null> | null | undefined;
interface Sized {
  name: string;
  name_localizations?: Localizations;
  description?: string | undefined;
  description_localizations?: Localizations;
  choices?: { name: string; name_localizations?: Localizations; value: string | number }[] | undefined;
  options?: Sized[] | undefined;
}

/**
 * The size Discord checks: name, description, and each choice's name and value, over the command and every
 * option, subcommand and group in it; with localizations, the longest spelling of a field counts. (Written
 * here independently of the bot's own count, so a test against the emulator checks the bot's arithmetic.)
 */
export function commandSize(piece: Sized): number {
  const longest = (text: string, local: Localizations) =>
    Math.max(text.length, ...Object.values(local ?? {}).map((value) => value?.length ?? 0));
  let size = longest(piece.name, piece.name_localizations);
  size += longest(piece.description ?? '', piece.description_localizations);
  for (const choice of piece.choices ?? []) {
    size += longest(choice.name, choice.name_localizations) + String(choice.value).length;
  }
  for (const option of piece.options ?? []) size += commandSize(option);
  return size;
}

function tooLarge(prefix: (string | number)[]): HttpError {
  let errors: Record<string, unknown> = {
    _errors: [
      {
        code: 'APPLICATION_COMMAND_TOO_LARGE',
        message: `Command exceeds maximum size (${MAX_COMMAND_SIZE})`,
      },
    ],
  };
  for (const key of [...prefix].reverse()) errors = { [String(key)]: errors };
  return new HttpError(400, DiscordErrorCode.InvalidFormBody, 'Invalid Form Body', errors);
}
