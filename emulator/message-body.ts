import type { APIAllowedMentions, APIEmbed, APIMessageTopLevelComponent } from 'discord-api-types/v10';
import { parseComponents } from './components.js';
import { DiscordErrorCode, HttpError, invalidFormBody } from './errors.js';
import type { MessageEdit } from './world.js';

const MAX_CONTENT_LENGTH = 2000;

/** A message create/edit body as the channel and interaction routes both accept it. */
export interface MessageBody {
  content?: string;
  embeds?: APIEmbed[];
  components?: APIMessageTopLevelComponent[];
  allowed_mentions?: APIAllowedMentions;
  nonce?: string;
  enforce_nonce?: boolean;
  flags?: number;
  message_reference?: { message_id?: string };
}

/** Checks content length and components (50035 naming the field); anything not an object is empty. */
export function parseMessageBody(body: unknown): MessageBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return {};
  const input = body as Omit<MessageBody, 'components'> & { nonce?: unknown; components?: unknown };
  if (typeof input.content === 'string' && input.content.length > MAX_CONTENT_LENGTH) {
    throw invalidFormBody(
      'content',
      'BASE_TYPE_MAX_LENGTH',
      `Must be ${MAX_CONTENT_LENGTH} or fewer in length.`,
    );
  }
  // Discord accepts integer or string nonces and stores them as given; comparison is on the string form.
  const nonce =
    typeof input.nonce === 'number'
      ? String(input.nonce)
      : typeof input.nonce === 'string'
        ? input.nonce
        : undefined;
  const components = parseComponents(input.components, typeof input.flags === 'number' ? input.flags : 0);
  return { ...input, nonce, components };
}

/** A new message needs content, an embed or a component (50006). */
export function requireSomethingToSend(body: MessageBody): void {
  if (!body.content && !body.embeds?.length && !body.components?.length) {
    throw new HttpError(400, DiscordErrorCode.CannotSendEmptyMessage, 'Cannot send an empty message');
  }
}

/** The edit a parsed body asks for, in World.editMessage's terms (fields left out are kept). */
export function editFromBody(body: MessageBody): MessageEdit {
  return {
    ...(body.content !== undefined ? { content: body.content } : {}),
    ...(body.embeds !== undefined ? { embeds: body.embeds } : {}),
    ...(body.components !== undefined ? { components: body.components } : {}),
    ...(body.allowed_mentions !== undefined ? { allowedMentions: body.allowed_mentions } : {}),
    ...(body.flags !== undefined ? { flags: body.flags } : {}),
  };
}
