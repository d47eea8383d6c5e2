import { ChannelType, type TextChannel } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { type Harness, useHarness } from './harness.js';

describe('REST rate limits and faults', () => {
  const start = useHarness();

  const channelOf = (h: Harness, name: string): TextChannel => {
    const channel = h.client.channels.cache.get(h.guild.channels[name]!);
    if (channel?.type !== ChannelType.GuildText) throw new Error(`${name} is not a text channel`);
    return channel;
  };

  it('refuses a rename beyond the 2-per-window limit with a real 429, and takes it once the window opens', async () => {
    const harness = await start({ renameLimit: { count: 2, windowMs: 1_000 } });
    const { emulator } = harness;
    const channel = channelOf(harness, 'general');
    await channel.setName('members-1');
    await channel.setName('members-2');
    // createClient rejects a channel edit's rate limit (the counter holds the rename) instead of waiting.
    const refused = await channel.setName('members-3').then(
      () => undefined,
      (error: unknown) => error as { name?: string; route?: string; retryAfter?: number },
    );
    expect(refused?.name).toMatch(/^RateLimitError/);
    expect(refused?.route).toBe('/channels/:id');
    expect(refused?.retryAfter).toBeGreaterThan(0);
    expect(refused?.retryAfter).toBeLessThanOrEqual(1_100); // discord.js adds a 50 ms margin
    const limited = emulator.requests.find((r) => r.status === 429);
    expect(limited?.response).toMatchObject({ message: 'You are being rate limited.', global: false });
    expect(emulator.world.channel(channel.id).name).toBe('members-2');

    await new Promise((resolve) => setTimeout(resolve, refused?.retryAfter ?? 1_000));
    await channel.setName('members-3');
    expect(emulator.world.channel(channel.id).name).toBe('members-3');
    const renames = emulator.requests.filter((r) => r.method === 'PATCH' && r.status === 200);
    expect(renames).toHaveLength(3);
  });

  it('sends 429 headers discord.js understands', async () => {
    const harness = await start({ renameLimit: { count: 1, windowMs: 60_000 } });
    const { emulator, client, guild } = harness;
    await client.rest.patch(`/channels/${guild.channels.general}`, { body: { name: 'a' } });
    const response = await fetch(`${emulator.apiBase}/v10/channels/${guild.channels.general}`, {
      method: 'PATCH',
      headers: {
        authorization: `Bot ${emulator.token}`,
        'content-type': 'application/json',
        'user-agent': 'test',
      },
      body: JSON.stringify({ name: 'b' }),
    });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBe(60);
    expect(response.headers.get('x-ratelimit-scope')).toBe('user');
    expect(Number(response.headers.get('x-ratelimit-remaining'))).toBeGreaterThan(0);
    expect(response.headers.get('x-ratelimit-bucket')).toBeTruthy();
    expect(await response.json()).toMatchObject({ retry_after: expect.any(Number), global: false });
  });

  it('has discord.js retry a burst of 502s', async () => {
    const harness = await start();
    const { emulator } = harness;
    emulator.rest.faults.fail({ method: 'POST', path: '/channels/:id/messages' }, { status: 502, times: 2 });
    const sent = await channelOf(harness, 'general').send('survived');
    expect(sent.content).toBe('survived');
    const statuses = emulator.requests.filter((r) => r.method === 'POST').map((r) => r.status);
    expect(statuses).toEqual([502, 502, 200]);
  });

  it('waits out an injected 429 and delays or hangs requests', async () => {
    const harness = await start({ restRetries: 0, restTimeoutMs: 300 });
    const { emulator } = harness;
    const channel = channelOf(harness, 'general');
    emulator.rest.faults.fail({ path: /\/messages$/ }, { status: 429, retryAfterSeconds: 0.2 });
    const started = Date.now();
    await channel.send('after a 429');
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    emulator.rest.faults.delay({ method: 'GET', path: '/channels/:id/messages' }, { ms: 150 });
    const slowStart = Date.now();
    await channel.messages.fetch({ limit: 1 });
    expect(Date.now() - slowStart).toBeGreaterThanOrEqual(150);
    emulator.rest.faults.hang({ method: 'POST', path: '/channels/:id/messages' });
    await expect(channel.send('into the void')).rejects.toThrow(/abort/i);
  });

  it('fails strict mode on an unknown route', async () => {
    const harness = await start();
    const { client, emulator } = harness;
    await expect(client.rest.get('/guilds/1/not-a-route')).rejects.toMatchObject({ status: 404, code: 0 });
    expect(() => emulator.assertNoUnexpectedRequests()).toThrow(/not-a-route/);
    emulator.clearUnexpected();
  });

  it('applies the global limit of 50 requests per second', async () => {
    const harness = await start();
    const { emulator } = harness;
    // discord.js spaces its own requests to stay under 50/s; a client that does not is stopped.
    const raw = await Promise.all(
      Array.from({ length: 60 }, () =>
        fetch(`${emulator.apiBase}/v10/users/@me`, {
          headers: { authorization: `Bot ${emulator.token}`, 'user-agent': 'raw' },
        }),
      ),
    );
    const limited = raw.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]?.headers.get('x-ratelimit-global')).toBe('true');
    expect(limited[0]?.headers.get('x-ratelimit-scope')).toBe('global');
  });
});
