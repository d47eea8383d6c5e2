import type { ExecuteContext, Task, TaskDefinition, TaskExecutor } from '../../src/tasks/index.js';

export const MINUTE = 60_000;

export interface ExecutorCall {
  taskName: string;
  iteration: number;
  scheduledAt: number;
  calledAt: number;
  nonce: string;
  signal: AbortSignal;
}

/** An executor that records every call and runs `behaviour` (default: succeed at once). */
export function recordingExecutor(
  behaviour: (task: Readonly<Task>, ctx: ExecuteContext) => Promise<void> = async () => {},
): TaskExecutor & { calls: ExecutorCall[]; callsOf(name: string): ExecutorCall[] } {
  const calls: ExecutorCall[] = [];
  const execute = (task: Readonly<Task>, ctx: ExecuteContext) => {
    calls.push({
      taskName: task.name,
      iteration: ctx.iteration,
      scheduledAt: ctx.scheduledAt.getTime(),
      calledAt: Date.now(),
      nonce: ctx.nonce,
      signal: ctx.signal,
    });
    return behaviour(task, ctx);
  };
  return Object.assign(execute, {
    calls,
    callsOf: (name: string) => calls.filter((c) => c.taskName === name),
  });
}

export function definition(overrides: Partial<TaskDefinition> = {}): TaskDefinition {
  return {
    name: 'ping',
    kind: 'reminder',
    options: { text: 'hello' },
    schedule: { kind: 'interval', seconds: 60 },
    channelId: 'channel-1',
    createdBy: 'admin-1',
    ...overrides,
  };
}
