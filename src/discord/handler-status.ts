// The one line a handler may add to `/task info` (its status hook), read from its stored state.
import type { Task } from '../db/index.js';
import { createHandlerStore, taskView } from '../handlers/executor.js';
import type { CommandContext } from './task-command.js';

export function handlerStatus(ctx: Pick<CommandContext, 'registry' | 'db'>, task: Task): string | undefined {
  const handler = ctx.registry.get(task.kind);
  if (!handler?.status) return undefined;
  let state: unknown;
  try {
    state = ctx.registry.stateOf(task.kind);
  } catch {
    return undefined; // the handler has no state to report on; its runs say why
  }
  return handler.status(taskView(task, task.options), createHandlerStore(ctx.db, task.id), state);
}
