import type { CatchUpPolicy, Task, TaskPatch, TaskState } from '../db/index.js';
import { checkCatchUp, checkCount, checkTaskName, checkTimeout } from './definition.js';
import { TaskError } from './errors.js';

// Pure rules of `/task edit`: which changes a task accepts, what its row becomes, and the one sentence that
// says what changed. The runtime applies the result; the handler layer supplies the kind's own validation.

/** What an edit asks to change; an absent field stays as it is. */
export interface TaskChanges {
  /** A new name for the task. */
  name?: string;
  channelId?: string;
  /** Kind options to set, by name, in their stored form (ids, numbers…). */
  setOptions?: Readonly<Record<string, unknown>>;
  /** Kind options to remove: an optional one goes, one with a default goes back to it. */
  clearOptions?: readonly string[];
  /** Runs in all; null runs forever. */
  count?: number | null;
  catchUp?: CatchUpPolicy;
  /** Per-run timeout; null goes back to the default. */
  timeoutMs?: number | null;
  /** Never accepted here (the schedule has its own command); present so a caller that sends one hears why. */
  schedule?: unknown;
}

/** What an edit needs from the handler layer, which knows the task's kind. */
export interface EditChecks {
  /** The kind's schema over the merged options: the parsed options, or a TaskError with a sentence. */
  options(merged: Record<string, unknown>): Record<string, unknown>;
  /** Create's channel check (permissions, the channel's server) for these options; a sentence refuses. */
  channel(channelId: string, options: Record<string, unknown>): Promise<string | undefined>;
}

/** The row after an edit, and the one sentence that says what changed. */
export interface TaskEdited {
  task: Task;
  reply: string;
}

/** An edit checked against the task as it was read: the fields to write and what the reply reports. */
export interface EditPlan {
  patch: Pick<TaskPatch, 'name' | 'channelId' | 'options' | 'count' | 'catchUp' | 'timeoutMs'>;
  /** Channel or kind options changed: create's channel check applies to the result. */
  recheckChannel: boolean;
  /** Count or catch-up changed: a running task's loop must be rebuilt to follow them. */
  loopChanged: boolean;
  /** Option names set or cleared (for the sentence); only those whose value changed. */
  optionNames: string[];
}

const SNOWFLAKE = /^\d{17,20}$/;

export const SCHEDULE_NOT_EDITABLE =
  "`/task edit` doesn't change when a task runs; use `/task interval` for that.";

/**
 * Checks every change (the same rules as create) and works out the row's new fields. Throws a TaskError
 * with a sentence for the first change refused; nothing is written then.
 */
export function planEdit(
  task: Pick<Task, 'name' | 'kind' | 'channelId' | 'options' | 'count' | 'catchUp' | 'timeoutMs'>,
  changes: TaskChanges,
  checks: Pick<EditChecks, 'options'>,
  defaultTimeoutMs: number,
): EditPlan {
  if (changes.schedule !== undefined) throw new TaskError('invalid_definition', SCHEDULE_NOT_EDITABLE);
  const patch: EditPlan['patch'] = {};
  if (changes.name !== undefined && changes.name !== task.name) {
    checkTaskName(changes.name);
    patch.name = changes.name;
  }
  if (changes.channelId !== undefined && changes.channelId !== task.channelId) {
    if (!SNOWFLAKE.test(changes.channelId)) {
      throw new TaskError('invalid_definition', 'That is not a channel; pick one from the list.');
    }
    patch.channelId = changes.channelId;
  }
  if (changes.count !== undefined && checkCount(changes.count) !== task.count) patch.count = changes.count;
  if (changes.catchUp !== undefined && checkCatchUp(changes.catchUp) !== task.catchUp) {
    patch.catchUp = changes.catchUp;
  }
  if (changes.timeoutMs !== undefined) {
    const timeoutMs = changes.timeoutMs ?? defaultTimeoutMs;
    if (checkTimeout(timeoutMs) !== task.timeoutMs) patch.timeoutMs = timeoutMs;
  }
  const optionNames = changedOptions(task, changes, checks, patch);
  return {
    patch,
    recheckChannel: patch.channelId !== undefined || patch.options !== undefined,
    loopChanged: patch.count !== undefined || patch.catchUp !== undefined,
    optionNames,
  };
}

/** Merges the option changes into the stored options, validates the result, and notes what changed. */
function changedOptions(
  task: Pick<Task, 'options'>,
  changes: TaskChanges,
  checks: Pick<EditChecks, 'options'>,
  patch: EditPlan['patch'],
): string[] {
  const set = changes.setOptions ?? {};
  const clear = changes.clearOptions ?? [];
  if (Object.keys(set).length === 0 && clear.length === 0) return [];
  const both = clear.filter((name) => name in set);
  if (both.length > 0) {
    throw new TaskError(
      'invalid_definition',
      `\`${both[0]}\` is both given a value and cleared; do one or the other.`,
    );
  }
  const merged: Record<string, unknown> = { ...task.options, ...set };
  for (const name of clear) delete merged[name];
  const options = checks.options(merged);
  const names = [...new Set([...Object.keys(task.options), ...Object.keys(options)])].filter(
    (name) => !sameValue(task.options[name], options[name]),
  );
  if (names.length > 0) patch.options = options;
  return names;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * What the new count does to a task's state, given its progress now. A count already reached completes it;
 * a completed task whose count was raised (or cleared) has runs left again, so it stops, and /task start
 * goes on from where it was. A one-off task completes by its date, not its count: that stays.
 */
export function stateAfterCount(
  task: Pick<Task, 'state' | 'count' | 'currentLoop' | 'schedule'>,
  count: number | null,
): TaskState {
  const reached = count !== null && task.currentLoop >= count;
  if (reached && task.state !== 'completed') return 'completed';
  if (!reached && task.state === 'completed' && task.schedule.kind !== 'once') return 'stopped';
  return task.state;
}

/**
 * The reply: `**standup**: message changed, role removed, count 5 → 3 (already ran 4 times, so it is now
 * completed).` `before` is the row as read before the edit, `after` the row as written.
 */
export function describeEdit(before: Task, after: Task, plan: EditPlan): string {
  const parts: string[] = [];
  if (plan.patch.name !== undefined) parts.push(`renamed to **${after.name}**`);
  if (plan.patch.channelId !== undefined)
    parts.push(`channel <#${before.channelId}> → <#${after.channelId}>`);
  for (const name of plan.optionNames)
    parts.push(describeOption(name, before.options[name], after.options[name]));
  if (plan.patch.count !== undefined) parts.push(describeCount(before, after));
  if (plan.patch.catchUp !== undefined) parts.push(`catch-up ${before.catchUp} → ${after.catchUp}`);
  if (plan.patch.timeoutMs !== undefined) {
    parts.push(`timeout ${formatTimeout(before.timeoutMs)} → ${formatTimeout(after.timeoutMs)}`);
  }
  if (parts.length === 0) return `**${before.name}** already has those settings; nothing changed.`;
  return `**${before.name}**: ${parts.join(', ')}.`;
}

function describeOption(name: string, before: unknown, after: unknown): string {
  if (after === undefined) return `${name} removed`;
  if (before === undefined) return isShown(after) ? `${name} set to ${show(after)}` : `${name} set`;
  return isShown(before) && isShown(after) ? `${name} ${show(before)} → ${show(after)}` : `${name} changed`;
}

/** Short plain values are shown; long texts and ids (a role's, say) are only said to have changed. */
function isShown(value: unknown): boolean {
  if (typeof value === 'number' || typeof value === 'boolean') return true;
  return (
    typeof value === 'string' && value.length <= 32 && !/[\n`*_~|<>@]/.test(value) && !SNOWFLAKE.test(value)
  );
}

function show(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : String(value);
}

function describeCount(before: Task, after: Task): string {
  const text = `count ${countText(before.count)} → ${countText(after.count)}`;
  const runs = `${after.currentLoop} time${after.currentLoop === 1 ? '' : 's'}`;
  if (after.state === 'completed' && before.state !== 'completed') {
    return `${text} (already ran ${runs}, so it is now completed)`;
  }
  if (before.state === 'completed' && after.state === 'stopped') {
    const left = after.count === null ? 'runs it again' : `runs the ${after.count - after.currentLoop} left`;
    return `${text} (it had completed, so it is now stopped: \`/task start\` ${left})`;
  }
  return text;
}

function countText(count: number | null): string {
  return count === null ? 'forever' : String(count);
}

/** `30s`, `1m30s`, `15m`: as the timeout option is written. */
function formatTimeout(ms: number): string {
  if (ms % 1000 !== 0) return `${ms} ms`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = (ms % 60_000) / 1000;
  return `${minutes > 0 ? `${minutes}m` : ''}${seconds > 0 || minutes === 0 ? `${seconds}s` : ''}`;
}
