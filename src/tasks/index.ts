export type { CatchUpPolicy, Task, TaskRun, TaskSchedule, TaskState } from '../db/index.js';
export { taskScheduleSchema } from '../db/index.js';
export { RUN_RETRY_WINDOW_MINUTES } from './activation.js';
export type { ExecuteContext, TaskExecutor } from './attempt.js';
export {
  checkTaskName,
  DEFAULT_TIMEOUT_MS,
  MAX_TIMEOUT_MS,
  resumeDueAt,
  TASK_NAME_PATTERN,
  type TaskDefinition,
} from './definition.js';
export {
  describeEdit,
  type EditChecks,
  type EditPlan,
  planEdit,
  SCHEDULE_NOT_EDITABLE,
  stateAfterCount,
  type TaskChanges,
  type TaskEdited,
} from './edit.js';
export { TaskError, type TaskErrorCode, TaskTimeoutError } from './errors.js';
export { KeyedLock } from './keyed-lock.js';
export { MAX_NONCE_LENGTH, runNonce } from './nonce.js';
export * from './runtime.js';
export {
  checkSchedule,
  engineSchedule,
  MAX_INTERVAL_SECONDS,
  MIN_INTERVAL_SECONDS,
  storedEngineSchedule,
  toLoopOptions,
  upcomingRuns,
} from './schedule.js';
export {
  checkShardScope,
  coversAllShards,
  describeScope,
  inShardScope,
  type ShardScope,
  shardOfGuild,
} from './shard-scope.js';
