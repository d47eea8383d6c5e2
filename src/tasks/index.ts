export type { CatchUpPolicy, Task, TaskRun, TaskSchedule, TaskState } from '../db/index.js';
export { taskScheduleSchema } from '../db/index.js';
export type { ExecuteContext, TaskExecutor } from './attempt.js';
export {
  checkTaskName,
  MAX_TIMEOUT_MS,
  parseTaskSchedule,
  resumeDueAt,
  TASK_NAME_PATTERN,
  toLoopOptions,
} from './definition.js';
export { TaskError, type TaskErrorCode, TaskTimeoutError } from './errors.js';
export { KeyedLock } from './keyed-lock.js';
export { MAX_NONCE_LENGTH, runNonce } from './nonce.js';
export * from './runtime.js';
