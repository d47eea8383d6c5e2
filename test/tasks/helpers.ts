import { afterEach, beforeEach, vi } from 'vitest';
import { type DatabaseConnection, openDatabase } from '../../src/db/index.js';
import {
  type ExecuteContext,
  type Task,
  type TaskDefinition,
  type TaskExecutor,
  TaskRuntime,
} from '../../src/tasks/index.js';
import { useTempDir } from '../db/helpers.js';

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

/**
 * Each test gets a fresh database file on a fake clock starting at `nowMs`, and the runtime it starts there;
 * after the test the runtime shuts down (a second of fake time lets aborted handlers settle) and all closes.
 */
export function useRuntimeOnFakeClock(nowMs: number) {
  const tempDbPath = useTempDir();
  let conn: DatabaseConnection | undefined;
  let runtime: TaskRuntime | undefined;
  beforeEach(() => {
    vi.useFakeTimers({ now: nowMs });
    conn = openDatabase(tempDbPath());
  });
  afterEach(async () => {
    const shutdown = runtime?.shutdown(0);
    await vi.advanceTimersByTimeAsync(1_000);
    await shutdown;
    runtime = undefined;
    conn?.close();
    vi.useRealTimers();
  });
  return {
    db: () => conn!.db,
    start: (execute: TaskExecutor): TaskRuntime => {
      runtime = new TaskRuntime({ db: conn!.db, execute });
      return runtime;
    },
  };
}

/**
 * A runtime on a fake clock starting at `nowMs` that a test can restart like a new process on the same
 * database file: `restartAfter(downtime)` shuts it down, lets the downtime pass and resumes every task.
 */
export function useRestartableRuntime(nowMs: number, execute: TaskExecutor) {
  const tempDbPath = useTempDir();
  let path: string;
  let conn: DatabaseConnection;
  let runtime: TaskRuntime;
  const boot = () => {
    conn = openDatabase(path);
    runtime = new TaskRuntime({ db: conn.db, execute });
  };
  const stopBot = async () => {
    const done = runtime.shutdown(1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    await done;
    conn.close();
  };
  beforeEach(() => {
    vi.useFakeTimers({ now: nowMs });
    path = tempDbPath();
    boot();
  });
  afterEach(async () => {
    await stopBot();
    vi.useRealTimers();
  });
  return {
    runtime: () => runtime,
    db: () => conn.db,
    path: () => path,
    boot,
    stopBot,
    /** Shuts the bot down, lets `downtimeMs` pass, and starts a new process's worth of runtime on the same file. */
    async restartAfter(downtimeMs: number) {
      await stopBot();
      vi.setSystemTime(Date.now() + downtimeMs);
      boot();
      return runtime.resumeAll();
    },
  };
}

/** The tasks a runtime runs in this process: with a live Loop, or parked until their next slot. */
export function runningTasks(runtime: Pick<TaskRuntime, 'liveLoopCount' | 'parkedCount'>): number {
  return runtime.liveLoopCount + runtime.parkedCount;
}
