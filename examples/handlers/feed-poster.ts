// A custom handler module: `/task create feed url:https://… every:15m` posts each new item of a JSON Feed,
// RSS or Atom feed once. It shows three things a handler needs:
// - abortable I/O: the fetch gets ctx.signal, so /task cancel or the run's timeout stops it at once;
// - state that survives restarts: the ids already posted live in ctx.store, not in memory;
// - a replayed run that posts nothing twice: each run notes its batch before posting, so a retry of the same
//   slot posts the same items in the same order, and the run's nonces make Discord drop what already went out.
// On its first run it posts only the newest item (so the admin sees it works) and marks the rest as seen: a
// feed's whole history at once would flood the channel.
import { defineHandler, TransientError } from 'metronome';
import { z } from 'zod';

/** Items posted per run at most; more wait for the next run, oldest first. */
const MAX_POSTS_PER_RUN = 5;
/** Ids remembered: enough for any feed's window of items, small enough for the store. */
const MAX_SEEN = 500;

interface FeedItem {
  id: string;
  title: string;
  url: string | undefined;
}

interface Batch {
  /** The slot the batch belongs to: a retry of that slot posts it again, a new slot fetches anew. */
  slot: number;
  items: FeedItem[];
}

const options = z.object({
  url: z
    .string()
    .trim()
    .max(2_000)
    .refine((text) => URL.canParse(text) && /^https?:$/.test(new URL(text).protocol), {
      message: 'give the feed as an http(s) address, like https://example.com/feed.xml',
    }),
});

export default defineHandler({
  kind: 'feed',
  description: 'Post new items of an RSS, Atom or JSON feed, each once',
  options,
  slashOptions: (b) =>
    b.addStringOption((o) =>
      o.setName('url').setDescription('The feed address (RSS, Atom or JSON Feed)').setRequired(true),
    ),
  async run(ctx) {
    const slot = ctx.scheduledAt.getTime();
    let batch = ctx.store.get<Batch>('batch');
    if (batch?.slot !== slot) {
      const items = await fetchFeed(ctx.options.url, ctx.signal);
      const seen = ctx.store.get<string[]>('seen');
      // Newest first in every format; posted oldest first.
      const fresh = seen === undefined ? items.slice(0, 1) : items.filter((item) => !seen.includes(item.id));
      batch = { slot, items: fresh.slice(0, MAX_POSTS_PER_RUN).reverse() };
      if (seen === undefined) ctx.store.set('seen', items.map((item) => item.id).slice(0, MAX_SEEN));
      ctx.store.set('batch', batch);
    }
    for (const { title, url } of batch.items) {
      const heading = `**${title.length > 256 ? `${title.slice(0, 255)}…` : title}**`;
      await ctx.send(url === undefined ? heading : `${heading}\n${url}`);
    }
    const seen = ctx.store.get<string[]>('seen') ?? [];
    const posted = batch.items.map((item) => item.id).reverse();
    ctx.store.set('seen', [...posted, ...seen.filter((id) => !posted.includes(id))].slice(0, MAX_SEEN));
    ctx.store.delete('batch');
  },
  status(_task, store) {
    const seen = store.get<string[]>('seen');
    return seen === undefined ? 'Not fetched yet.' : `${seen.length} items seen so far.`;
  },
});

/** The feed's items, newest first. */
async function fetchFeed(url: string, signal: AbortSignal): Promise<FeedItem[]> {
  const response = await fetch(url, {
    signal,
    headers: { accept: 'application/feed+json, application/json, application/rss+xml, application/atom+xml' },
  });
  // A busy or failing server: retried with backoff. Anything else is the address's fault: the task stops,
  // and /task info shows why.
  if (response.status >= 500 || response.status === 429) {
    throw new TransientError(`the feed answered ${response.status} ${response.statusText}`);
  }
  if (!response.ok)
    throw new Error(`the feed answered ${response.status} ${response.statusText}; check its address`);
  const text = await response.text();
  const items = text.trimStart().startsWith('{') ? jsonFeedItems(text) : xmlFeedItems(text);
  if (items === undefined) throw new Error('that address does not serve an RSS, Atom or JSON feed');
  return items;
}

function jsonFeedItems(text: string): FeedItem[] | undefined {
  const feed = z
    .object({
      items: z.array(
        z.object({
          id: z.union([z.string(), z.number()]).transform(String),
          url: z.string().optional(),
          title: z.string().optional(),
          content_text: z.string().optional(),
        }),
      ),
    })
    .safeParse(parseJson(text));
  if (!feed.success) return undefined;
  return feed.data.items.map((item) => ({
    id: item.id,
    title: item.title ?? item.content_text?.slice(0, 200) ?? item.id,
    url: item.url,
  }));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** RSS <item>s or Atom <entry>s: enough of XML for feeds, which is all this example reads. */
function xmlFeedItems(text: string): FeedItem[] | undefined {
  const blocks = [...text.matchAll(/<(item|entry)\b[^>]*>([\s\S]*?)<\/\1>/g)].map((match) => match[2]!);
  if (blocks.length === 0 && !/<(rss|feed)\b/.test(text)) return undefined;
  return blocks.map((block) => {
    const url = tag(block, 'link') || /<link\b[^>]*\bhref="([^"]+)"/.exec(block)?.[1];
    const title = tag(block, 'title') || url || 'Untitled';
    return { id: tag(block, 'guid') || tag(block, 'id') || url || title, title, url: url || undefined };
  });
}

function tag(block: string, name: string): string {
  const inner = new RegExp(`<${name}\\b[^>]*>([\\s\\S]*?)</${name}>`).exec(block)?.[1] ?? '';
  const cdata = /^\s*<!\[CDATA\[([\s\S]*?)\]\]>\s*$/.exec(inner);
  const raw = cdata
    ? cdata[1]!
    : inner.replace(/&(lt|gt|quot|apos|#39|amp);/g, (_, entity: string) => ENTITIES[entity]!);
  return raw.trim();
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'", amp: '&' };
