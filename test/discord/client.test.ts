import { GatewayIntentBits } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, DEFAULT_INTENTS } from '../../src/discord/client.js';

describe('createClient', () => {
  const clients: { destroy(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.destroy()));
  });

  it('defaults to the intents Metronome needs, without Message Content', () => {
    const client = createClient({ token: 't' });
    clients.push(client);
    expect(client.options.intents.toArray().sort()).toEqual(['GuildMembers', 'GuildMessages', 'Guilds']);
    expect(client.options.intents.has(GatewayIntentBits.MessageContent)).toBe(false);
    expect(DEFAULT_INTENTS).toHaveLength(3);
    expect(client.token).toBe('t');
  });

  it('points REST at the given base and applies timeouts and the testing throttler', () => {
    const client = createClient({
      token: 't',
      apiBase: 'http://127.0.0.1:1/api',
      restTimeoutMs: 500,
      restRetries: 1,
      testing: true,
    });
    clients.push(client);
    expect(client.options.rest?.api).toBe('http://127.0.0.1:1/api');
    expect(client.options.rest?.timeout).toBe(500);
    expect(client.options.rest?.retries).toBe(1);
    expect(client.options.ws?.buildIdentifyThrottler).toBeTypeOf('function');
  });
});
