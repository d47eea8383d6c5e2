import { TransientError } from '../loop/index.js';

// Errors a user can cause through /task are TaskErrors: a code for programs and a sentence for people.
// Anything else the runtime throws is a bug or an environment failure and carries its own context.

export type TaskErrorCode =
  | 'invalid_name'
  | 'name_taken'
  | 'not_found'
  | 'invalid_schedule'
  | 'invalid_definition'
  | 'already_running'
  | 'not_running'
  | 'completed'
  | 'limit_reached'
  | 'shutting_down'
  | 'other_shard';

export class TaskError extends Error {
  override readonly name = 'TaskError';

  constructor(
    readonly code: TaskErrorCode,
    /** A complete sentence that can be shown to the member who ran the command. */
    message: string,
  ) {
    super(message);
  }
}

/**
 * Why an iteration was aborted when it ran past the task's timeout. A run that hangs is nearly always
 * Discord being slow or rate-limiting us, so it is a handled error: the loop retries the same slot (same
 * nonce, so a post that did land is not shown twice) with its backoff, and the run is recorded as
 * `retried` with this text; failing the task instead would end an admin's task over one slow minute.
 * Retries stop after RUN_RETRY_WINDOW_MINUTES (runtime.ts): the slot is then recorded as an error and
 * the task goes on with its next slot.
 */
export class TaskTimeoutError extends TransientError {
  override readonly name = 'TaskTimeoutError';

  constructor(readonly timeoutMs: number) {
    // No "it is retried": the run's outcome says whether it was, and a slot given up is not.
    super(`the iteration took longer than ${formatMs(timeoutMs)} and was aborted`);
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
