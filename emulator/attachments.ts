// Discord's CDN, in small: files a test uploads (for an attachment option) and files the bot sends, each
// kept in memory and served over HTTP at the url Discord would give it, so the bot downloads with a plain
// `fetch(attachment.url)` and a test reads back what the bot sent.
import type { APIAttachment } from 'discord-api-types/v10';
import { HttpError } from './errors.js';
import { InvocationError } from './interaction-options.js';
import type { UploadedFile } from './multipart.js';
import type { SnowflakeGenerator } from './snowflake.js';

/** Where the CDN side of the emulator serves files: `/attachments/<channel>/<attachment>/<filename>`. */
export const ATTACHMENTS_PATH = '/attachments';

/** Discord's upload limit for a bot without boosts (also sent as `attachment_size_limit`). */
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

/** Discord's JSON error code for an upload past the limit (with HTTP 413). */
const REQUEST_ENTITY_TOO_LARGE = 40005;

/** A file a test uploads, as a user would pick it in Discord's client for an attachment option. */
export interface AttachmentUpload {
  filename: string;
  /** Text is stored as UTF-8. */
  content: string | Uint8Array;
  contentType?: string;
}

export interface StoredAttachment {
  id: string;
  filename: string;
  contentType: string;
  data: Buffer;
  /** Path below the server root (the url without its origin). */
  path: string;
}

export class AttachmentStore {
  readonly #byId = new Map<string, StoredAttachment>();
  readonly #byPath = new Map<string, StoredAttachment>();

  constructor(
    private readonly snowflakes: SnowflakeGenerator,
    /** `http://127.0.0.1:<port>`, known once the server listens. */
    private readonly origin: () => string,
  ) {}

  /** Stores a file a user is about to attach; its id is what an attachment option's value names. */
  upload(upload: AttachmentUpload, channelId = '0'): StoredAttachment {
    const data =
      typeof upload.content === 'string' ? Buffer.from(upload.content) : Buffer.from(upload.content);
    if (data.length > MAX_ATTACHMENT_BYTES) {
      throw new InvocationError(
        `${upload.filename} is larger than Discord's ${MAX_ATTACHMENT_BYTES} byte limit`,
      );
    }
    return this.#store(channelId, upload.filename, upload.contentType ?? guessType(upload.filename), data);
  }

  /** Stores the files of a message the bot sends (refused with 40005 past the upload limit). */
  storeSent(channelId: string, files: readonly UploadedFile[]): StoredAttachment[] {
    const total = files.reduce((sum, file) => sum + file.data.length, 0);
    if (total > MAX_ATTACHMENT_BYTES)
      throw new HttpError(413, REQUEST_ENTITY_TOO_LARGE, 'Request entity too large');
    return files.map((file) => this.#store(channelId, file.filename, file.contentType, file.data));
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  get(id: string): StoredAttachment {
    const stored = this.#byId.get(id);
    if (!stored) throw new Error(`no attachment ${id} was uploaded to the emulator`);
    return stored;
  }

  /** A stored file by its url (or the path of it), as a test reads back what the bot sent. */
  byUrl(url: string): StoredAttachment {
    const path = new URL(url, 'http://emulator').pathname;
    const stored = this.#byPath.get(path);
    if (!stored) throw new Error(`no attachment is served at ${url}`);
    return stored;
  }

  /** The attachment object Discord puts in `resolved.attachments` and in `message.attachments`. */
  apiAttachment(stored: StoredAttachment): APIAttachment {
    const url = `${this.origin()}${stored.path}`;
    return {
      id: stored.id,
      filename: stored.filename,
      size: stored.data.length,
      content_type: stored.contentType,
      url,
      proxy_url: url,
    };
  }

  /** The file served at `path` (GET), or undefined for a path the CDN does not hold. */
  serve(path: string): StoredAttachment | undefined {
    return this.#byPath.get(path);
  }

  #store(channelId: string, filename: string, contentType: string, data: Buffer): StoredAttachment {
    const id = this.snowflakes.next();
    const path = `${ATTACHMENTS_PATH}/${channelId}/${id}/${encodeURIComponent(filename)}`;
    const stored: StoredAttachment = { id, filename, contentType, data, path };
    this.#byId.set(id, stored);
    this.#byPath.set(path, stored);
    return stored;
  }
}

function guessType(filename: string): string {
  if (filename.endsWith('.json')) return 'application/json; charset=utf-8';
  if (filename.endsWith('.txt')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}
