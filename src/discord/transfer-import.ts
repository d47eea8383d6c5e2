// `/task import`, task by task: each entry of an export file checked as `/task create` would check it
// (name, kind, options through the handler's schema, schedule through the gate, count, catch-up, timeout),
// with its channel and the roles or members in its options found by name in this server. Every problem of
// every entry is collected, so one reply can list them all. Pure: the server comes in as a ServerDirectory,
// built for the member names memberNamesIn finds.
import { ApplicationCommandOptionType, type ChannelType } from 'discord-api-types/v10';
import type { Handler } from '../handlers/define.js';
import { checkCatchUp, checkCount, checkTimeout } from '../tasks/definition.js';
import {
  checkSchedule,
  checkTaskName,
  DEFAULT_TIMEOUT_MS,
  TASK_NAME_PATTERN,
  type TaskDefinition,
  TaskError,
} from '../tasks/index.js';
import { TASK_CHANNEL_TYPES } from './channel-permissions.js';
import { handlerSlashOptions, validateHandlerOptions } from './handler-options.js';
import {
  isReference,
  type MemberQuery,
  mayNameMember,
  type NameLookup,
  type ServerDirectory,
  taskEntrySchema,
} from './transfer.js';

export interface ImportContext {
  handler(kind: string): Handler | undefined;
  directory: ServerDirectory;
  /** Names of the tasks this server has now. */
  existingNames: ReadonlySet<string>;
  nowMs: number;
}

/** One entry of the file, checked: its definition when nothing is wrong with it, its problems otherwise. */
export interface PlannedTask {
  /** The task's name, or `task 3` for an entry without a valid one. */
  label: string;
  problems: string[];
  /** Set when `problems` is empty. */
  definition?: Omit<TaskDefinition, 'createdBy'>;
  handler?: Handler;
  /** The state it was exported in. */
  exportedState?: string;
  /** Why it is left out without being a problem (a one-off that already ran). */
  skipped?: string;
}

/** Checks every entry (nothing stops at the first problem), so one reply can list them all. */
export function planImport(entries: readonly unknown[], ctx: ImportContext): PlannedTask[] {
  const seen = new Map<string, number>();
  for (const entry of entries) {
    const name = (entry as { name?: unknown } | null)?.name;
    if (typeof name === 'string') seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  return entries.map((entry, index) => planOne(entry, index, ctx, seen));
}

/**
 * The names the entries' user and mentionable options give: the members an import must fetch before
 * planImport (the client caches none). Entries planImport will refuse or skip anyway are left out.
 */
export function memberNamesIn(
  entries: readonly unknown[],
  handler: (kind: string) => Handler | undefined,
  nowMs: number,
): MemberQuery {
  const names = new Set<string>();
  const orRoles = new Set<string>();
  for (const entry of entries) {
    const parsed = taskEntrySchema.safeParse(entry);
    if (!parsed.success || isSpentOneOff(parsed.data, nowMs)) continue;
    const kind = handler(parsed.data.kind);
    if (!kind) continue;
    for (const option of handlerSlashOptions(kind)) {
      const value = parsed.data.options[option.name];
      if (typeof value !== 'string' || !mayNameMember(option.type)) continue;
      (option.type === ApplicationCommandOptionType.User ? names : orRoles).add(unprefixed(value, '@'));
    }
  }
  return { names: [...names], orRoles: [...orRoles] };
}

function planOne(
  entry: unknown,
  index: number,
  ctx: ImportContext,
  seen: ReadonlyMap<string, number>,
): PlannedTask {
  const parsed = taskEntrySchema.safeParse(entry);
  const rawName = (entry as { name?: unknown } | null)?.name;
  // A name that is not a valid task name is not shown in bold as a label: it could be any text at all.
  const label =
    typeof rawName === 'string' && TASK_NAME_PATTERN.test(rawName) ? rawName : `task ${index + 1}`;
  if (!parsed.success) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      return { label, problems: ['It is not a task: each entry of `tasks` is an object.'] };
    const fields = new Set(parsed.error.issues.map((issue) => String(issue.path[0])));
    return { label, problems: [...fields].map(wrongField) };
  }
  const task = parsed.data;
  if (isSpentOneOff(task, ctx.nowMs)) {
    // Its one run is over: nothing to create, and no reason to refuse the rest of the file over it.
    return { label, problems: [], exportedState: task.state, skipped: 'a one-off that already ran' };
  }
  const problems: string[] = [];
  const check = <T>(run: () => T): T | undefined => {
    try {
      return run();
    } catch (error) {
      if (!(error instanceof TaskError)) throw error;
      problems.push(error.message);
      return undefined;
    }
  };

  check(() => checkTaskName(task.name));
  if (ctx.existingNames.has(task.name)) problems.push(`This server already has a task named "${task.name}".`);
  if ((seen.get(task.name) ?? 0) > 1) problems.push(`The file has more than one task named "${task.name}".`);

  const handler = ctx.handler(task.kind);
  if (!handler) problems.push(`There is no task kind "${task.kind}" on this bot.`);

  let channelId: string | undefined;
  if (task.channel === null) {
    problems.push(
      'It has no channel (its channel was deleted before the export); set `channel` to a channel name.',
    );
  } else {
    channelId = resolveName(
      task.channel,
      '#',
      (name) => ctx.directory.channelByName(name, TASK_CHANNEL_TYPES),
      'channel',
      { problems },
    );
  }

  let options: Record<string, unknown> | undefined;
  if (handler) {
    const mapped = importOptions(handler, task.options, ctx.directory, problems);
    if (mapped) {
      const validated = validateHandlerOptions(handler, mapped);
      if (validated.ok) options = validated.value;
      else problems.push(validated.error);
    }
  }

  const schedule = check(() => checkSchedule(task.schedule, ctx.nowMs));
  const count = check(() => checkCount(task.count));
  const catchUp = check(() => checkCatchUp(task.catchUp));
  const timeoutMs = check(() => checkTimeout(task.timeoutMs));

  if (problems.length > 0 || !handler || !options || !schedule || channelId === undefined) {
    return { label, problems, exportedState: task.state };
  }
  return {
    label,
    problems,
    handler,
    exportedState: task.state,
    definition: {
      name: task.name,
      kind: task.kind,
      options,
      schedule,
      count: count ?? null,
      catchUp: catchUp ?? 'skip',
      timeoutMs: timeoutMs ?? DEFAULT_TIMEOUT_MS,
      channelId,
      // Only a task that was running when exported starts; the others wait for /task start.
      start: task.state === 'running',
    },
  };
}

function isSpentOneOff(task: { state: string; schedule: unknown }, nowMs: number): boolean {
  const schedule = task.schedule as { kind?: unknown; at?: unknown } | null;
  return (
    task.state === 'completed' &&
    schedule?.kind === 'once' &&
    typeof schedule.at === 'number' &&
    schedule.at <= nowMs
  );
}

/** What each field of an entry should hold, for the sentence when it holds something else. */
const FIELD_SHAPES: Record<string, string> = {
  name: 'a task name like "standup"',
  kind: 'a task kind like "reminder"',
  state: 'one of running, stopped, cancelled, failed or completed',
  channel: 'a channel name like "#general"',
  schedule: 'a schedule like {"kind": "interval", "seconds": 3600}',
  count: 'a whole number, or null for forever',
  catchUp: '"skip" or "once"',
  timeoutMs: 'a number of milliseconds',
  options: "an object of the kind's options",
};

function wrongField(field: string): string {
  const shape = FIELD_SHAPES[field];
  return shape === undefined ? `Its \`${field}\` is not valid.` : `Its \`${field}\` should be ${shape}.`;
}

/**
 * The handler's options with names (`@Crew`, `#general`) turned into this server's ids, by the handler's
 * slash option types; undefined (and a problem each) when a name has no match here.
 */
function importOptions(
  handler: Handler,
  given: Record<string, unknown>,
  directory: ServerDirectory,
  problems: string[],
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = { ...given };
  let mapped = true;
  for (const option of handlerSlashOptions(handler)) {
    const value = given[option.name];
    if (value === undefined || value === null || !isReference(option.type)) continue;
    if (typeof value !== 'string') {
      problems.push(`Its \`${option.name}\` should be a name like "@Crew" or "#general".`);
      mapped = false;
      continue;
    }
    const channelTypes =
      'channel_types' in option ? (option.channel_types as ChannelType[] | undefined) : undefined;
    const id = referenceId(option.type, value, directory, channelTypes, problems, option.name);
    if (id === undefined) mapped = false;
    else out[option.name] = id;
  }
  return mapped ? out : undefined;
}

function referenceId(
  type: ApplicationCommandOptionType,
  value: string,
  directory: ServerDirectory,
  channelTypes: readonly ChannelType[] | undefined,
  problems: string[],
  option: string,
): string | undefined {
  const named = { option, problems };
  switch (type) {
    case ApplicationCommandOptionType.Channel:
      return resolveName(value, '#', (name) => directory.channelByName(name, channelTypes), 'channel', named);
    case ApplicationCommandOptionType.Role:
      return resolveName(value, '@', (name) => directory.roleByName(name), 'role', named);
    case ApplicationCommandOptionType.User:
      return resolveName(value, '@', (name) => directory.memberByName(name), 'member', named);
    default:
      return resolveName(
        value,
        '@',
        (name) => {
          const role = directory.roleByName(name);
          return 'missing' in role ? directory.memberByName(name) : role;
        },
        'role or member',
        named,
      );
  }
}

/**
 * The id `written` (`#general`, `@Crew`) leads to here, or undefined with the problem said: of the task's
 * channel, or of the handler option `where.option`.
 */
function resolveName(
  written: string,
  prefix: '#' | '@',
  lookup: (name: string) => NameLookup,
  what: 'channel' | 'role' | 'member' | 'role or member',
  where: { option?: string; problems: string[] },
): string | undefined {
  const name = unprefixed(written, prefix);
  const found = lookup(name);
  if ('id' in found) return found.id;
  const shown = `${prefix}${name}`;
  const several = 'several' in found ? found.several : 0;
  if (where.option === undefined) {
    where.problems.push(
      several === 0
        ? `There is no ${what} named ${shown} in this server.`
        : `${several} ${what}s here are named ${shown}; rename all but one.`,
    );
  } else {
    const its = `Its \`${where.option}\` option names ${shown}, but`;
    where.problems.push(
      several === 0
        ? `${its} this server has no ${what} by that name.`
        : `${its} ${several} ${what === 'role or member' ? 'roles or members' : `${what}s`} here have that name; rename all but one.`,
    );
  }
  return undefined;
}

/** `general` for `#general` or `general`: names are written with or without their sign. */
function unprefixed(written: string, prefix: '#' | '@'): string {
  return written.startsWith(prefix) ? written.slice(prefix.length) : written;
}
