import { ChannelType, GatewayOpcodes } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../emulator/index.js';
import { createClient } from '../../src/discord/client.js';
import { useHarness } from './harness.js';

describe('login', () => {
  const start = useHarness();

  it('identifies, receives READY and fills the guild cache', async () => {
    const harness = await start();
    const { client, guild, emulator } = harness;
    expect(client.user?.id).toBe(emulator.world.botUser.id);
    expect(client.application?.id).toBe(emulator.world.applicationId);
    const cached = client.guilds.cache.get(guild.id);
    expect(cached?.name).toBe('Test Guild');
    expect(cached?.channels.cache.get(guild.channels.general!)?.type).toBe(ChannelType.GuildText);
    expect(cached?.channels.cache.get(guild.channels.Lounge!)?.type).toBe(ChannelType.GuildVoice);
    // Fetched: the bot's cache policy may keep no member but its own.
    const alice = await cached!.members.fetch(guild.members.alice!);
    expect(alice.roles.cache.has(guild.roles.Mods!)).toBe(true);
    expect(cached?.members.me?.permissions.has('ManageChannels')).toBe(true);
    // Timestamp-based snowflakes give real creation dates.
    expect(Math.abs((cached?.createdTimestamp ?? 0) - Date.now())).toBeLessThan(60_000);
    const connect = emulator.gateway.frames.entries.find(
      (f) => f.direction === 'received' && f.op === GatewayOpcodes.Identify,
    );
    expect(connect?.d).toMatchObject({ token: emulator.token });
    expect(emulator.requests.map((r) => `${r.method} ${r.path}`)).toContain('GET /gateway/bot');
  });

  it('rejects a wrong token with 401 and discord.js reports an invalid token', async () => {
    const emulator = await startEmulator();
    const client = createClient({
      token: 'not-the-token',
      apiBase: emulator.apiBase,
      testing: true,
      restTimeoutMs: 1_000,
    });
    await expect(client.login()).rejects.toThrow(/token/i);
    expect(emulator.requests[0]?.status).toBe(401);
    await client.destroy();
    await emulator.close();
  });
});
