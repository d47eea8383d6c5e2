// The file `/task export` writes and `/task import` reads: a server's task definitions with channels, roles
// and members written by name, so the file carries no id of the server it came from and imports into any
// server that has the same names. Pure: the server's names come in through a ServerDirectory
// (transfer-directory.ts builds it from the bot's cache and the members the tasks name).
import { ApplicationCommandOptionType, type ChannelType } from 'discord-api-types/v10';
import { z } from 'zod';
import { taskStates } from '../db/schema.js';
import type { Handler } from '../handlers/define.js';
import { DEFAULT_TIMEOUT_MS, type Task } from '../tasks/index.js';
import { handlerSlashOptions } from './handler-options.js';
import { fail, ok, type Parsed } from './input.js';

export const EXPORT_VERSION = 1;
/** A server's 100 tasks with 2,000-character messages come to about 250 kB; past 1 MB it is not an export. */
export const MAX_IMPORT_BYTES = 1024 * 1024;

/** Where a name leads in a server: one id, none, or several (a name Discord lets two channels share). */
export type NameLookup = { id: string } | { missing: true } | { several: number };

/** A server's channels, roles and members by id and by name, as export and import need them. */
export interface ServerDirectory {
  /** `general` for a channel of this server, undefined for one it no longer has. */
  channelName(id: string): string | undefined;
  /** Channels of the given types (any but categories when omitted) named `name`. */
  channelByName(name: string, types?: readonly ChannelType[]): NameLookup;
  /** `Crew`; `everyone` for the server's @everyone role (whose id is the server's). */
  roleName(id: string): string | undefined;
  roleByName(name: string): NameLookup;
  /** A member's username, for the members the directory was built for (guildDirectory's `ids`). */
  memberName(id: string): string | undefined;
  /**
   * The username of a user the tasks name who is no longer a member (Discord still knows them), written
   * as Discord shows such a mention; undefined for a member, an unknown id, or a directory that has none.
   */
  formerMemberName?(id: string): string | undefined;
  /** Members by username, among those the directory was built for (guildDirectory's `names`). */
  memberByName(name: string): NameLookup;
}

/**
 * The members a directory fetches from Discord, as the client caches none but the bot's own: by id for an
 * export, by username for an import. `orRoles` are names from mentionable options, which lead to a role
 * first, so they are fetched only when no role has that name.
 */
export type MemberQuery =
  | { ids: readonly string[] }
  | { names: readonly string[]; orRoles?: readonly string[] };

export const taskEntrySchema = z.object({
  name: z.string(),
  kind: z.string(),
  state: z.enum(taskStates).default('stopped'),
  channel: z.string().nullable(),
  schedule: z.unknown(),
  count: z.number().nullable().default(null),
  catchUp: z.string().default('skip'),
  timeoutMs: z.number().default(DEFAULT_TIMEOUT_MS),
  options: z.record(z.string(), z.unknown()).default({}),
});

/** One task as the file holds it. */
export type ExportedTask = z.input<typeof taskEntrySchema>;

export interface ExportFile {
  version: typeof EXPORT_VERSION;
  exportedBy: string;
  exportedAt: string;
  /** The server it came from, by name, for whoever reads the file. */
  server: string;
  tasks: ExportedTask[];
}

// ---- export ------------------------------------------------------------------------------------------

export interface ExportContext {
  handler(kind: string): Handler | undefined;
  directory: ServerDirectory;
  serverName: string;
  nowMs: number;
  /** What wrote the file: `Metronome 1.4.0`. */
  exportedBy: string;
}

export interface BuiltExport {
  file: ExportFile;
  /** What could not be written by name (a deleted channel, a kind not loaded), one sentence each. */
  notes: string[];
}

/** The export of `tasks`: definitions only (no history, no progress), every id written as a name. */
export function buildExport(tasks: readonly Task[], ctx: ExportContext): BuiltExport {
  const notes: string[] = [];
  const entries = [...tasks]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((task): ExportedTask => {
      const channel = ctx.directory.channelName(task.channelId);
      if (channel === undefined)
        notes.push(`**${task.name}**: its channel no longer exists, so the file names none.`);
      return {
        name: task.name,
        kind: task.kind,
        state: task.state,
        channel: channel === undefined ? null : `#${channel}`,
        schedule: task.schedule,
        count: task.count,
        catchUp: task.catchUp,
        timeoutMs: task.timeoutMs,
        options: exportOptions(task, ctx, notes),
      };
    });
  return {
    file: {
      version: EXPORT_VERSION,
      exportedBy: ctx.exportedBy,
      exportedAt: new Date(ctx.nowMs).toISOString(),
      server: ctx.serverName,
      tasks: entries,
    },
    notes,
  };
}

/** `metronome-tasks-my-server-2026-12-01.json` */
export function exportFileName(serverName: string, nowMs: number): string {
  const slug = serverName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  const day = new Date(nowMs).toISOString().slice(0, 10);
  return `metronome-tasks-${slug || 'server'}-${day}.json`;
}

/** The handler's options with each channel, role or member id (by its slash option type) as a name. */
function exportOptions(task: Task, ctx: ExportContext, notes: string[]): Record<string, unknown> {
  const stored = (task.options ?? {}) as Record<string, unknown>;
  const handler = ctx.handler(task.kind);
  if (!handler) {
    notes.push(
      `**${task.name}**: its kind (${task.kind}) is not loaded, so its options are written as stored.`,
    );
    return { ...stored };
  }
  const out: Record<string, unknown> = { ...stored };
  for (const option of handlerSlashOptions(handler)) {
    const value = stored[option.name];
    if (typeof value !== 'string' || !isReference(option.type)) continue;
    const named = nameOf(option.type, value, ctx.directory);
    if (named === undefined) {
      delete out[option.name];
      notes.push(
        `**${task.name}**: its \`${option.name}\` no longer exists here, so the file leaves it out.`,
      );
    } else {
      out[option.name] = named.name;
      if (named.left)
        notes.push(
          `**${task.name}**: its \`${option.name}\` names ${named.name}, who is no longer a member of this server.`,
        );
    }
  }
  return out;
}

export function isReference(type: ApplicationCommandOptionType): boolean {
  return (
    type === ApplicationCommandOptionType.Channel ||
    type === ApplicationCommandOptionType.Role ||
    type === ApplicationCommandOptionType.User ||
    type === ApplicationCommandOptionType.Mentionable
  );
}

/** Whether an option of this type may hold a member: these are the ones an export or import fetches. */
export function mayNameMember(type: ApplicationCommandOptionType): boolean {
  return type === ApplicationCommandOptionType.User || type === ApplicationCommandOptionType.Mentionable;
}

/** `#general`, `@Crew`, `@alice` for an id; `left` for a user no longer a member, written all the same. */
function nameOf(
  type: ApplicationCommandOptionType,
  id: string,
  directory: ServerDirectory,
): { name: string; left?: true } | undefined {
  const channel = () => prefixed('#', directory.channelName(id));
  const role = () => prefixed('@', directory.roleName(id));
  const member = () => {
    const current = prefixed('@', directory.memberName(id));
    if (current !== undefined) return { name: current };
    const former = prefixed('@', directory.formerMemberName?.(id));
    return former === undefined ? undefined : { name: former, left: true as const };
  };
  const named = (name: string | undefined) => (name === undefined ? undefined : { name });
  switch (type) {
    case ApplicationCommandOptionType.Channel:
      return named(channel());
    case ApplicationCommandOptionType.Role:
      return named(role());
    case ApplicationCommandOptionType.User:
      return member();
    default:
      return named(role()) ?? member();
  }
}

/** The ids the tasks' user and mentionable options hold: the members an export names. */
export function memberIdsIn(
  tasks: readonly Task[],
  handler: (kind: string) => Handler | undefined,
): MemberQuery {
  const ids = new Set<string>();
  for (const task of tasks) {
    const stored = (task.options ?? {}) as Record<string, unknown>;
    const kind = handler(task.kind);
    if (!kind) continue;
    for (const option of handlerSlashOptions(kind)) {
      const value = stored[option.name];
      if (typeof value === 'string' && mayNameMember(option.type)) ids.add(value);
    }
  }
  return { ids: [...ids] };
}

const prefixed = (prefix: string, name: string | undefined) =>
  name === undefined ? undefined : prefix + name;

// ---- import: the file as a whole ---------------------------------------------------------------------

const fileSchema = z.looseObject({ version: z.unknown(), tasks: z.array(z.unknown()) });

/** The file's task entries, or one sentence saying why the file as a whole cannot be imported. */
export function readExportFile(bytes: Uint8Array): Parsed<unknown[]> {
  if (bytes.length > MAX_IMPORT_BYTES) return fail(tooLarge(bytes.length));
  const text = new TextDecoder('utf-8').decode(bytes).replace(/^\uFEFF/, '');
  if (text.trim() === '') return fail('That file is empty; attach a file made by `/task export`.');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail(
      "That file isn't valid JSON, so it can't be a Metronome export; attach a file made by `/task export`.",
    );
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success)
    return fail(
      "That file isn't a Metronome task export (it has no `version` and `tasks`); attach a file made by `/task export`.",
    );
  const { version, tasks } = parsed.data;
  if (version !== EXPORT_VERSION) {
    const newer = typeof version === 'number' && version > EXPORT_VERSION;
    return fail(
      `That file is in version ${JSON.stringify(version)} of the export format${newer ? ', from a newer Metronome' : ''}; this Metronome reads version ${EXPORT_VERSION}.`,
    );
  }
  if (tasks.length === 0) return fail('That file has no tasks to import.');
  return ok(tasks);
}

/** The refusal for a file past MAX_IMPORT_BYTES, its size rounded up so it never reads as the limit. */
export function tooLarge(bytes: number): string {
  const size =
    bytes < 1024 * 1024
      ? `${Math.ceil(bytes / 1024)} kB`
      : `${(Math.ceil((bytes / (1024 * 1024)) * 10) / 10).toFixed(1)} MB`;
  return `That file is ${size}; an export is at most ${MAX_IMPORT_BYTES / (1024 * 1024)} MB.`;
}

/** The refusal for more tasks than the server has room for, or undefined when they fit. */
export function overLimit(incoming: number, existing: number, max: number): string | undefined {
  if (existing + incoming <= max) return undefined;
  const room = Math.max(0, max - existing);
  return (
    `That file has ${incoming} task${incoming === 1 ? '' : 's'}, but this server has ${existing} of the ${max} ` +
    `Metronome allows, so only ${room} more fit; nothing was imported.`
  );
}
