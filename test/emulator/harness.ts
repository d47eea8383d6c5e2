import { type Client, Events } from 'discord.js';
import { afterEach } from 'vitest';
import {
  type Emulator,
  type EmulatorOptions,
  type GuildHandle,
  startEmulator,
} from '../../emulator/index.js';
import { type CreateClientOptions, createClient } from '../../src/discord/client.js';

export interface Harness {
  emulator: Emulator;
  client: Client;
  guild: GuildHandle;
  close(): Promise<void>;
}

/**
 * An emulator with one guild ("Test Guild": #general, #announcements, a member "alice" with a Mods
 * role) and a logged-in discord.js client using short REST timeouts.
 */
export async function startHarness(
  options: EmulatorOptions & {
    restRetries?: number;
    restTimeoutMs?: number;
    intents?: CreateClientOptions['intents'];
  } = {},
): Promise<Harness> {
  const emulator = await startEmulator(options);
  const guild = emulator.world.createGuild({
    name: 'Test Guild',
    roles: [{ name: 'Mods', permissions: ['ManageGuild'], mentionable: true }],
    channels: [
      { name: 'Text', type: 'category' },
      { name: 'general', parent: 'Text', topic: 'Talk here' },
      { name: 'announcements', parent: 'Text' },
      { name: 'Lounge', type: 'voice' },
    ],
    members: [{ user: { username: 'alice' }, roles: ['Mods'] }, { user: { username: 'bob' } }],
  });
  const client = createClient({
    token: emulator.token,
    apiBase: emulator.apiBase,
    restTimeoutMs: options.restTimeoutMs ?? 2_000,
    restRetries: options.restRetries ?? 3,
    ...(options.intents !== undefined ? { intents: options.intents } : {}),
    testing: true,
  });
  const ready = new Promise<void>((resolve) => client.once('clientReady', () => resolve()));
  await client.login();
  await ready;
  return {
    emulator,
    client,
    guild,
    async close() {
      await client.destroy();
      await emulator.close();
    },
  };
}

type HarnessOptions = Parameters<typeof startHarness>[0];

/** For a describe block: returns `start`, which starts a harness for the test; each is closed after it. */
export function useHarness(): (options?: HarnessOptions) => Promise<Harness> {
  let current: Harness | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return async (options) => {
    current = await startHarness(options);
    return current;
  };
}

/**
 * Resolves when the client has processed its next READY (and guilds) or RESUMED. Wait for this, not for
 * the emulator having sent the frame: destroying a client mid-identify makes discord.js reconnect.
 */
export function nextClientSession(client: Client): Promise<'ready' | 'resumed'> {
  return new Promise((resolve) => {
    const onReady = () => settle('ready');
    const onResume = () => settle('resumed');
    const settle = (how: 'ready' | 'resumed') => {
      client.off(Events.ShardReady, onReady);
      client.off(Events.ShardResume, onResume);
      resolve(how);
    };
    client.on(Events.ShardReady, onReady);
    client.on(Events.ShardResume, onResume);
  });
}
