import { Client, Events, GatewayIntentBits, type WebSocketOptions } from 'discord.js';
import type { Emulator } from '../../emulator/index.js';

const INTENTS = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMembers, GatewayIntentBits.GuildMessages];

/**
 * A plain discord.js client for the emulator, built here rather than by the bot's createClient so that these
 * tests see the emulator's wire behaviour, not the bot's cache policy. Shards as discord.js takes them.
 */
export function directClient(
  emulator: Emulator,
  options: { shards?: number[]; shardCount?: number; ws?: Partial<WebSocketOptions> } = {},
): Client {
  const client = new Client({
    intents: INTENTS,
    ...(options.shards ? { shards: options.shards } : {}),
    ...(options.shardCount ? { shardCount: options.shardCount } : {}),
    rest: { api: emulator.apiBase, timeout: 2_000, retries: 1 },
    // Local gateway: no 5-second spacing between the shards' IDENTIFYs.
    ws: { ...options.ws, buildIdentifyThrottler: () => ({ waitForIdentify: async () => {} }) },
  });
  client.token = emulator.token;
  return client;
}

/** Logs in and resolves once every shard of the client is ready. */
export async function login(client: Client): Promise<Client> {
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login();
  await ready;
  return client;
}
