// metronome/testing itself: what a handler author relies on. advance() lets every due run finish, real I/O
// included, before moving on; create() goes through the real /task create; refusals and bad input are sentences.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineHandler } from 'metronome';
import { handlerTestbed, type Testbed } from 'metronome/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

let bed: Testbed | undefined;
let server: Server | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

const echo = defineHandler({
  kind: 'echo',
  description: 'Posts its text',
  options: z.object({ text: z.string().min(1, 'say something') }),
  slashOptions: (b) =>
    b.addStringOption((o) => o.setName('text').setDescription('What to say').setRequired(true)),
  async run(ctx) {
    await ctx.send(`${ctx.options.text} #${ctx.iteration + 1}`);
    ctx.log.info({ text: ctx.options.text }, 'echoed');
  },
});

/** A local server that answers each request after `delayMs` of real time with the request count. */
async function slowServer(delayMs: number): Promise<string> {
  let served = 0;
  server = createServer((_req, res) => {
    const n = ++served;
    // node:timers/promises runs on real time: the test's clock is fake.
    void sleep(delayMs).then(() => res.end(`answer ${n}`));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

describe('handlerTestbed', () => {
  it('creates through /task create and runs each slot as the clock moves', async () => {
    bed = await handlerTestbed({ handlers: [echo], now: '2026-03-01T08:00:00Z' });
    expect(new Date().toISOString()).toBe('2026-03-01T08:00:00.000Z');
    const task = await bed.create('echo', { text: 'hello' }, { every: '10m', count: 4 });
    expect(task).toEqual({ name: 'echo', kind: 'echo' });
    // The first run is due at once: create() lets it happen.
    expect(bed.posts().map((m) => m.content)).toEqual(['hello #1']);
    await bed.advance('25m');
    expect(bed.posts().map((m) => m.content)).toEqual(['hello #1', 'hello #2', 'hello #3']);
    expect(new Date().toISOString()).toBe('2026-03-01T08:25:00.000Z');
    await bed.advance(5 * 60_000);
    expect(await bed.info(task)).toContain('4 of 4 runs done');
    expect(await bed.info('echo')).toContain('completed');
    // A second task of the kind gets the next free name, in the channel asked for.
    expect(await bed.create('echo', { text: 'hi' }, { channel: '#announcements' })).toEqual({
      name: 'echo-2',
      kind: 'echo',
    });
    expect(bed.posts('#announcements').map((m) => m.content)).toEqual(['hi #1']);
    expect(await bed.run('list')).toContain('echo-2');
    // What the handler logged, with the task it ran for.
    expect(bed.logs.filter((line) => line.msg === 'echoed').map((line) => [line.task, line.text])).toEqual([
      ['echo', 'hello'],
      ['echo', 'hello'],
      ['echo', 'hello'],
      ['echo', 'hello'],
      ['echo-2', 'hi'],
    ]);
  });

  it('lets a run waiting on real I/O finish before the clock moves on', async () => {
    const url = await slowServer(150);
    const fetcher = defineHandler({
      kind: 'fetcher',
      description: 'Posts what a URL answers',
      options: z.object({}),
      async run(ctx) {
        const answer = await fetch(url, { signal: ctx.signal });
        await ctx.send(await answer.text());
      },
    });
    bed = await handlerTestbed({ handlers: [fetcher] });
    // A 10 s timeout: had the clock jumped a minute during a fetch, that run would have been cut off.
    const task = await bed.create('fetcher', {}, { every: '1m', timeout: '10s' });
    await bed.advance('3m');
    expect(bed.posts().map((m) => m.content)).toEqual(['answer 1', 'answer 2', 'answer 3', 'answer 4']);
    expect(await bed.info(task)).not.toContain('error');
  });

  it('lets a request on its way to Discord arrive before the clock moves on, for a built-in kind too', async () => {
    bed = await handlerTestbed({ now: '2026-03-01T08:00:00Z' });
    // Each post is answered after 200 ms of real time, while the bot's request timeout runs on the fake clock.
    bed.emulator.rest.faults.delay({ method: 'POST', path: '/channels/:id/messages' }, { ms: 200, times: 3 });
    await bed.create('reminder', { message: 'Tea time' }, { every: '1h' });
    await bed.advance('2h');
    expect(bed.posts().map((m) => m.content)).toEqual(['Tea time', 'Tea time', 'Tea time']);
    // Each sent once and answered at its slot: the clock stood still while it was on its way.
    const posts = bed.emulator.rest.requests.entries.filter(
      (r) => r.method === 'POST' && /\/channels\/\d+\/messages$/.test(r.path),
    );
    expect(posts.map((r) => new Date(r.at).toISOString())).toEqual([
      '2026-03-01T08:00:00.000Z',
      '2026-03-01T09:00:00.000Z',
      '2026-03-01T10:00:00.000Z',
    ]);
  });

  it('keeps tasks and their handler state across a restart', async () => {
    const counting = defineHandler({
      kind: 'counting',
      description: 'Counts its runs in its store',
      options: z.object({}),
      async run(ctx) {
        const seen = (ctx.store.get<number>('seen') ?? 0) + 1;
        await ctx.send(`run ${seen}`);
        ctx.store.set('seen', seen);
      },
    });
    bed = await handlerTestbed({ handlers: [counting] });
    await bed.create('counting', {}, { every: '1h' });
    await bed.advance('1h');
    await bed.restart();
    await bed.advance('1h');
    expect(bed.posts().map((m) => m.content)).toEqual(['run 1', 'run 2', 'run 3']);
  });

  it("says why /task create refused, in the bot's own words", async () => {
    bed = await handlerTestbed({ handlers: [echo] });
    await expect(bed.create('echo', { text: '' })).rejects.toThrow(
      /^\/task create echo was refused: .*say something/,
    );
    await expect(bed.create('echo', { text: 'hi' }, { every: '1s' })).rejects.toThrow(
      /^\/task create echo was refused: Tasks can run at most every 10 seconds/,
    );
    await expect(bed.create('nope', {})).rejects.toThrow('/task has no subcommand "create nope".');
    await expect(bed.create('echo', { text: 'hi' }, { channel: '#nowhere' })).rejects.toThrow(
      'The demo server has no channel #nowhere; it has #general, #announcements, #stats, #ideas, #standups.',
    );
    await expect(bed.create('echo', {})).rejects.toThrow(/^Discord would refuse that: /);
    expect(bed.posts()).toEqual([]);
  });

  it('refuses a duration it cannot read, and a handler the bot would not load', async () => {
    await expect(handlerTestbed({ handlers: [{ ...echo, kind: 'Not A Kind' }] })).rejects.toThrow(
      'the handler "Not A Kind" was refused: kind must be 1 to 32 lowercase letters, digits, "-" or "_", starting with a letter',
    );
    await expect(handlerTestbed({ now: 'someday' })).rejects.toThrow('now: "someday" is not a date.');
    bed = await handlerTestbed();
    await expect(handlerTestbed()).rejects.toThrow(
      'The fake clock is already in use (another testbed, or vi.useFakeTimers()): close that first.',
    );
    await expect(bed.advance('2 days')).rejects.toThrow(
      'advance("2 days"): write the time like 90s, 15m, 1h30m or 2d, or give milliseconds.',
    );
    await expect(bed.advance(-1)).rejects.toThrow('advance(-1): give a number of milliseconds, 0 or more.');
    expect(() => bed!.posts('#nowhere')).toThrow('The demo server has no channel #nowhere');
    expect(() => bed!.say('#general', 'carol', 'hi')).toThrow(
      'The demo server has no member carol; it has Demo Server-owner, demo-admin, alice, bob.',
    );
  });

  it("shows members' messages to the bot, as the gateway does", async () => {
    bed = await handlerTestbed();
    const seen: string[] = [];
    // The bot asks for no message content (a privileged intent it does not need): it sees who and where.
    bed.client.on('messageCreate', (message) =>
      seen.push(`${message.author.username} in ${message.channelId}`),
    );
    bed.say('#general', 'alice', 'hello bot');
    await bed.advance(0);
    await expect.poll(() => seen).toEqual([`alice in ${bed.guild.channels.general}`]);
    expect(bed.posts().map((m) => m.content)).toEqual(['hello bot']);
  });
});
