/** Discord JSON error codes the emulator answers with (subset of the documented list). */
export const DiscordErrorCode = {
  General: 0,
  UnknownChannel: 10003,
  UnknownGuild: 10004,
  UnknownMember: 10007,
  UnknownMessage: 10008,
  UnknownRole: 10011,
  UnknownUser: 10013,
  UnknownWebhook: 10015,
  UnknownInteraction: 10062,
  UnknownApplicationCommand: 10063,
  MissingAccess: 50001,
  CannotEditOtherUsersMessage: 50005,
  CannotSendEmptyMessage: 50006,
  InvalidWebhookToken: 50027,
  MissingPermissions: 50013,
  InvalidFormBody: 50035,
  InteractionAlreadyAcknowledged: 40060,
} as const;

/** Thrown by route handlers; the server turns it into Discord's JSON error body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors?: unknown,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  body(): { message: string; code: number; errors?: unknown } {
    return this.errors === undefined
      ? { message: this.message, code: this.code }
      : { message: this.message, code: this.code, errors: this.errors };
  }
}

export const notFound = (code: number, what: string): HttpError =>
  new HttpError(404, code, `Unknown ${what}`);

export const missingPermissions = (): HttpError =>
  new HttpError(403, DiscordErrorCode.MissingPermissions, 'Missing Permissions');

export const missingAccess = (): HttpError =>
  new HttpError(403, DiscordErrorCode.MissingAccess, 'Missing Access');

/** A 400 "Invalid Form Body" naming one field, shaped like Discord's nested `errors` object. */
export function invalidFormBody(field: string, code: string, message: string): HttpError {
  return new HttpError(400, DiscordErrorCode.InvalidFormBody, 'Invalid Form Body', {
    [field]: { _errors: [{ code, message }] },
  });
}
