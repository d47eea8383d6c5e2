/** Discord accepts message nonces up to 25 characters. */
export const MAX_NONCE_LENGTH = 25;

/**
 * The nonce of one run of a task: the same task and slot always give the same nonce (retries of an
 * iteration and a catch-up of an interrupted slot included), so with `enforce_nonce` Discord drops a second
 * post when a crash struck between sending a message and recording the run.
 * Base 36 keeps it short: 'm' + task id (≤ 11 chars) + '.' + ms timestamp (≤ 9 chars until 5188) ≤ 22.
 */
export function runNonce(taskId: number, scheduledAtMs: number): string {
  if (!Number.isSafeInteger(taskId) || taskId < 0) throw new RangeError(`runNonce: bad task id ${taskId}`);
  if (!Number.isSafeInteger(scheduledAtMs) || scheduledAtMs < 0) {
    throw new RangeError(`runNonce: bad scheduled time ${scheduledAtMs}`);
  }
  return `m${taskId.toString(36)}.${scheduledAtMs.toString(36)}`;
}
