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
  | 'shutting_down';

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

/** Why an iteration was aborted when it ran past the task's timeout; it fails the iteration as an error. */
export class TaskTimeoutError extends Error {
  // Deliberately not 'TimeoutError': the loop engine retries errors by that name as transient network
  // failures, and a handler that hangs is a bug to surface, not a blip to retry.
  override readonly name = 'TaskTimeoutError';

  constructor(readonly timeoutMs: number) {
    super(`the iteration took longer than ${formatMs(timeoutMs)} and was aborted`);
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
