// Request bodies with files, as discord.js sends them: multipart/form-data with the JSON in `payload_json`
// and each file in `files[n]`. Node's own fetch implementation parses the form; this module only says what
// Discord reads of it. The files ride on the parsed payload under a symbol, so routes that do not expect
// files pass the payload along unchanged and JSON.stringify never sees them.

/** A file part of a multipart request. */
export interface UploadedFile {
  /** The index n of its `files[n]` field: what `attachments[].id` in the payload refers to. */
  index: number;
  filename: string;
  contentType: string;
  data: Buffer;
}

const UPLOADED_FILES = Symbol('uploaded files');

type WithFiles = { [UPLOADED_FILES]?: UploadedFile[] };

export function isMultipart(contentType: string | undefined): boolean {
  return contentType?.toLowerCase().startsWith('multipart/form-data') ?? false;
}

/**
 * The `payload_json` part (parsed; the raw text if it is not JSON; an empty object if absent) with the
 * `files[n]` parts attached. A body that is not a valid form throws.
 */
export async function parseMultipart(contentType: string, raw: Buffer): Promise<unknown> {
  const form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
  const files: UploadedFile[] = [];
  let payload: unknown = {};
  for (const [field, value] of form) {
    if (field === 'payload_json' && typeof value === 'string') {
      payload = parseJson(value);
      continue;
    }
    const index = /^files\[(\d+)\]$/.exec(field)?.[1];
    if (index === undefined || typeof value === 'string') continue;
    files.push({
      index: Number(index),
      filename: value.name,
      contentType: value.type || 'application/octet-stream',
      data: Buffer.from(await value.arrayBuffer()),
    });
  }
  if (typeof payload !== 'object' || payload === null) return payload;
  // Non-enumerable as well as a symbol: structuredClone and spreads of the payload leave the files behind.
  Object.defineProperty(payload, UPLOADED_FILES, { value: files, enumerable: false });
  return payload;
}

/** The files uploaded with a request body (none for a JSON body). */
export function filesOf(body: unknown): UploadedFile[] {
  if (typeof body !== 'object' || body === null) return [];
  return (body as WithFiles)[UPLOADED_FILES] ?? [];
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
