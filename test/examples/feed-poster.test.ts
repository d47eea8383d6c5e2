// The feed poster example, through metronome/testing, against a feed served from a local http server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handlerTestbed, type Testbed } from 'metronome/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import feed from '../../examples/handlers/feed-poster.js';

let bed: Testbed | undefined;
let server: Server;
let url: string;
/** How the feed server answers the next request; by default, `body` as a JSON Feed. */
let answer: (req: IncomingMessage, res: ServerResponse) => void;
let items: { id: string; title: string; url?: string }[];

beforeEach(async () => {
  items = [];
  answer = (_req, res) => {
    res.setHeader('content-type', 'application/feed+json');
    // Newest first, as feeds list them.
    res.end(JSON.stringify({ version: 'https://jsonfeed.org/version/1.1', items: [...items].reverse() }));
  };
  server = createServer((req, res) => answer(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/feed.json`;
});

afterEach(async () => {
  await bed?.close();
  bed = undefined;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const posted = () => bed!.posts().map((m) => m.content);
const item = (n: number) => ({ id: `post-${n}`, title: `Post ${n}`, url: `https://blog.example/${n}` });

describe('feed poster', () => {
  it('posts only the newest item at first, then each new one once, across a restart', async () => {
    items = [item(1), item(2), item(3)];
    bed = await handlerTestbed({ handlers: [feed] });
    const task = await bed.create('feed', { url }, { every: '15m' });
    expect(posted()).toEqual(['**Post 3**\nhttps://blog.example/3']);
    items.push(item(4), item(5));
    await bed.advance('15m');
    expect(posted().slice(1)).toEqual([
      '**Post 4**\nhttps://blog.example/4',
      '**Post 5**\nhttps://blog.example/5',
    ]);
    await bed.advance('30m');
    expect(posted()).toHaveLength(3);
    await bed.restart();
    await bed.advance('15m');
    expect(posted()).toHaveLength(3);
    items.push(item(6));
    await bed.advance('15m');
    expect(posted().slice(3)).toEqual(['**Post 6**\nhttps://blog.example/6']);
    expect(await bed.info(task)).toContain('Status: 6 items seen so far.');
  });

  it('reads RSS and Atom, CDATA and entities included', async () => {
    let xml = `<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>
      <item><title><![CDATA[Tabs & spaces]]></title><link>https://blog.example/tabs</link><guid>tabs</guid></item>
      <item><title>Old</title><link>https://blog.example/old</link><guid>old</guid></item>
    </channel></rss>`;
    answer = (_req, res) => res.end(xml);
    bed = await handlerTestbed({ handlers: [feed] });
    await bed.create('feed', { url }, { every: '1h' });
    xml = `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title>
      <entry><id>urn:3</id><title>Fish &amp; chips &lt;3</title><link href="https://blog.example/fish"/></entry>
      <entry><id>tabs</id><title>Tabs &amp; spaces</title><link href="https://blog.example/tabs"/></entry>
    </feed>`;
    await bed.advance('1h');
    expect(posted()).toEqual([
      '**Tabs & spaces**\nhttps://blog.example/tabs',
      '**Fish & chips <3**\nhttps://blog.example/fish',
    ]);
  });

  it('a run retried after a failed post posts each item once, even if the feed changed meanwhile', async () => {
    items = [item(1)];
    bed = await handlerTestbed({ handlers: [feed] });
    await bed.create('feed', { url }, { every: '1h' });
    items.push(item(2), item(3));
    let failed = 0;
    const stop = bed.emulator.rest.requests.subscribe((request) => {
      if (request.method !== 'POST' || !request.path.endsWith('/messages')) return;
      if (request.status === 502) failed++;
      else if (failed === 0 && request.status === 200 && request.path.endsWith('/messages')) {
        // Post 2 went out. Post 3 fails for good (discord.js's own retries too), so the slot is run again
        // later, by when the feed has dropped Post 2.
        bed!.emulator.rest.faults.fail(
          { method: 'POST', path: '/channels/:id/messages' },
          { status: 502, times: 4 },
        );
        items = [item(3)];
      }
    });
    // The slot, and its retry a second or two later (backoff).
    await bed.advance('1h1m');
    stop();
    expect(failed).toBe(4);
    expect(posted()).toEqual([
      '**Post 1**\nhttps://blog.example/1',
      '**Post 2**\nhttps://blog.example/2',
      '**Post 3**\nhttps://blog.example/3',
    ]);
  });

  it('retries a failing server, and stops on an address that is not a feed, saying why', async () => {
    let status = 503;
    answer = (_req, res) => {
      res.statusCode = status;
      res.end(status === 200 ? JSON.stringify({ items: [item(1)] }) : 'busy');
    };
    bed = await handlerTestbed({ handlers: [feed] });
    const task = await bed.create('feed', { url }, { every: '1h' });
    expect(await bed.info(task)).toContain('the feed answered 503 Service Unavailable');
    status = 200;
    await bed.advance('1m');
    expect(posted()).toEqual(['**Post 1**\nhttps://blog.example/1']);
    answer = (_req, res) => res.end('<html><body>Hello</body></html>');
    await bed.advance('1h');
    const info = await bed.info(task);
    expect(info).toContain('failed');
    expect(info).toContain('that address does not serve an RSS, Atom or JSON feed');
    status = 404;
    answer = (_req, res) => {
      res.statusCode = 404;
      res.end('no');
    };
    const gone = await bed.create('feed', { url }, { every: '1h' });
    expect(await bed.info(gone)).toContain('the feed answered 404 Not Found; check its address');
  });

  it('stops a fetch in flight when the task is cancelled', async () => {
    bed = await handlerTestbed({ handlers: [feed] });
    let aborted: Promise<void> | undefined;
    let cancelled: Promise<string> | undefined;
    answer = (req) => {
      // Never answers; the run ends only if the task's signal aborts the fetch.
      aborted = new Promise((resolve) => req.on('close', () => resolve()));
      cancelled = bed!.run('cancel', { name: 'feed' });
    };
    await bed.create('feed', { url }, { every: '1h' });
    await aborted;
    expect(await cancelled).toContain('feed');
    expect(await bed.info('feed')).toContain('cancelled');
    expect(posted()).toEqual([]);
  });

  it('refuses an address that is not http(s)', async () => {
    bed = await handlerTestbed({ handlers: [feed] });
    await expect(bed.create('feed', { url: 'ftp://files.example/feed.xml' })).rejects.toThrow(
      'give the feed as an http(s) address, like https://example.com/feed.xml',
    );
  });
});
