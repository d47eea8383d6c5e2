// What a test holds of an interaction it started: the record of what the bot answered, and ways to await it.
import {
  type APIInteraction,
  type APIMessage,
  type InteractionResponseType,
  type InteractionType,
  MessageFlags,
} from 'discord-api-types/v10';
import type { InteractionManager } from './interactions.js';
import type { WaitOptions } from './log.js';

export interface InteractionCallback {
  type: InteractionResponseType;
  data: unknown;
  at: number;
}

export interface InteractionRecord {
  id: string;
  token: string;
  type: InteractionType;
  payload: APIInteraction;
  createdAtMs: number;
  callback: InteractionCallback | null;
  /** Callbacks refused (40060, 10062, or 50035 for a response type invalid here), for assertions. */
  rejectedCallbacks: { status: number; code: number; type: unknown; at: number }[];
  /**
   * The reply message, or for a component interaction answered with an update (7) or deferred update (6),
   * the message holding the component: what `@original` then edits.
   */
  originalMessageId: string | null;
  followUpIds: string[];
  /** For a component interaction, the message holding the component. */
  sourceMessageId: string | null;
}

export type InteractionEvent =
  | { kind: 'callback'; interactionId: string; callback: InteractionCallback }
  | { kind: 'original' | 'followUp'; interactionId: string; message: APIMessage };

const isSettled = (message: APIMessage): boolean => ((message.flags ?? 0) & MessageFlags.Loading) === 0;

/** What a test holds after invoking a command: the interaction and ways to await the bot's answer. */
export class InteractionHandle {
  constructor(
    private readonly manager: InteractionManager,
    readonly record: InteractionRecord,
  ) {}

  get id(): string {
    return this.record.id;
  }

  get token(): string {
    return this.record.token;
  }

  /** The bot's acknowledgement (reply, defer, update, autocomplete result, modal). */
  waitForAck(options?: WaitOptions): Promise<InteractionCallback> {
    return this.manager.waitForCallback(this.id, options);
  }

  /**
   * The original response once it is a real message (after reply, or after the edit that follows a defer),
   * and satisfies the predicate. Ephemeral replies are included: check `flags & MessageFlags.Ephemeral`.
   * For a component interaction answered with update (or deferUpdate and an edit), the source message as
   * edited.
   */
  waitForReply(
    predicate: (message: APIMessage) => boolean = () => true,
    options?: WaitOptions,
  ): Promise<APIMessage> {
    return this.manager.waitForMessage(this.id, 'original', (m) => isSettled(m) && predicate(m), options);
  }

  waitForFollowUp(
    predicate: (message: APIMessage) => boolean = () => true,
    options?: WaitOptions,
  ): Promise<APIMessage> {
    return this.manager.waitForMessage(this.id, 'followUp', predicate, options);
  }

  /** The original response as it is now, or null. */
  original(): APIMessage | null {
    return this.manager.originalOf(this.record);
  }

  followUps(): APIMessage[] {
    return this.record.followUpIds.map((id) => this.manager.world.message(id).message);
  }

  get ephemeral(): boolean {
    const original = this.original();
    return original !== null && ((original.flags ?? 0) & MessageFlags.Ephemeral) !== 0;
  }
}
