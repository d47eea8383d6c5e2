// The messages a bot's answers to an interaction make (the reply, follow-ups, and the files on them), and
// which answer types each kind of interaction allows.
import {
  ApplicationIntegrationType,
  InteractionResponseType,
  InteractionType,
  MessageFlags,
  MessageType,
} from 'discord-api-types/v10';
import type { AttachmentStore } from './attachments.js';
import type { InteractionRecord } from './interaction-handle.js';
import { type MessageBody, requireSomethingToSend } from './message-body.js';
import type { UploadedFile } from './multipart.js';
import type { MessageRecord, World } from './world.js';

/**
 * The message a reply, a deferral (loading until edited) or a follow-up makes, with the files uploaded with
 * it; the first one becomes the interaction's `@original`.
 */
export function createResponseMessage(
  world: World,
  attachments: AttachmentStore,
  record: InteractionRecord,
  body: MessageBody,
  deferred: boolean,
  files: readonly UploadedFile[] = [],
): MessageRecord {
  const flags = body.flags ?? 0;
  const ephemeral = (flags & MessageFlags.Ephemeral) !== 0;
  const payload = record.payload as { channel_id?: string; member?: { user: { id: string } } };
  // A file alone is something to send.
  if (!deferred && files.length === 0) requireSomethingToSend(body);
  const sent = attachments
    .storeSent(payload.channel_id!, files)
    .map((stored) => attachments.apiAttachment(stored));
  const created = world.createMessage({
    channel: payload.channel_id!,
    author: world.botUser.id,
    content: body.content ?? '',
    ...(body.embeds ? { embeds: body.embeds } : {}),
    ...(body.components ? { components: body.components } : {}),
    ...(body.allowed_mentions ? { allowedMentions: body.allowed_mentions } : {}),
    flags:
      (flags & (MessageFlags.Ephemeral | MessageFlags.SuppressEmbeds)) |
      (deferred ? MessageFlags.Loading : 0),
    ephemeral,
    type:
      record.type === InteractionType.ApplicationCommand && !record.callback && !record.originalMessageId
        ? MessageType.ChatInputCommand
        : MessageType.Default,
    webhookId: world.applicationId,
    applicationId: world.applicationId,
    interactionMetadata: {
      id: record.id,
      type: record.type,
      user: world.apiUser(payload.member!.user.id),
      authorizing_integration_owners: {
        [ApplicationIntegrationType.GuildInstall]: record.payload.guild_id ?? '',
      },
      ...(record.sourceMessageId ? { interacted_message_id: record.sourceMessageId } : {}),
    } as MessageRecord['message']['interaction_metadata'] & object,
  });
  // The world creates messages without files; an ephemeral reply is announced nowhere, so setting them
  // here is what Discord would have shown. (A public one was already dispatched without them.)
  created.message.attachments = sent;
  if (!record.originalMessageId) record.originalMessageId = created.message.id;
  return created;
}

/**
 * An edit's files, as Discord applies them: `attachments` in the body lists the existing ones to keep
 * (all are kept when it is absent), and each uploaded `files[n]` is added.
 */
export function editAttachments(
  attachments: AttachmentStore,
  target: MessageRecord,
  body: unknown,
  files: readonly UploadedFile[],
): void {
  const listed =
    typeof body === 'object' && body !== null ? (body as { attachments?: unknown }).attachments : undefined;
  if (files.length === 0 && !Array.isArray(listed)) return;
  const keepIds = Array.isArray(listed)
    ? new Set(listed.map((entry) => String((entry as { id?: unknown } | null)?.id)))
    : null;
  const kept = target.message.attachments.filter((a) => keepIds === null || keepIds.has(a.id));
  const added = attachments
    .storeSent(target.message.channel_id, files)
    .map((stored) => attachments.apiAttachment(stored));
  target.message.attachments = [...kept, ...added];
}

export function isAllowedResponse(
  interaction: InteractionType,
  type: unknown,
): type is InteractionResponseType {
  if (interaction === InteractionType.ApplicationCommandAutocomplete) {
    return type === InteractionResponseType.ApplicationCommandAutocompleteResult;
  }
  // Updating the message in place only makes sense where there is one: a component's.
  if (
    interaction === InteractionType.MessageComponent &&
    (type === InteractionResponseType.UpdateMessage || type === InteractionResponseType.DeferredMessageUpdate)
  ) {
    return true;
  }
  return (
    type === InteractionResponseType.ChannelMessageWithSource ||
    type === InteractionResponseType.DeferredChannelMessageWithSource ||
    type === InteractionResponseType.Modal
  );
}
