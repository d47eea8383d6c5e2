import { GatewayDispatchEvents, GatewayOpcodes, SlashCommandBuilder } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { type Harness, nextClientSession, useHarness } from './harness.js';

const ping = new SlashCommandBuilder().setName('ping').setDescription('Pong');

async function withPingCommand(harness: Harness): Promise<void> {
  await harness.client.application!.commands.set([ping.toJSON()]);
  harness.client.on('interactionCreate', (interaction) => {
    if (interaction.isChatInputCommand()) void interaction.reply('pong');
  });
}

describe('gateway resilience', () => {
  const start = useHarness();

  it('resumes after a resumable close (4000) and replays the interaction sent meanwhile', async () => {
    const harness = await start();
    const { emulator, guild } = harness;
    await withPingCommand(harness);
    const identifies = emulator.gateway.countReceived(GatewayOpcodes.Identify);
    const resumed = nextClientSession(harness.client);
    emulator.gateway.close(4000, 'Unknown error');
    expect(emulator.gateway.connected).toBe(false);
    const handle = emulator.invokeSlash({
      user: guild.members.alice!,
      guild: guild.id,
      channel: guild.channels.general!,
      command: 'ping',
    });
    expect(await resumed).toBe('resumed');
    expect((await handle.waitForReply()).content).toBe('pong');
    expect(emulator.gateway.countReceived(GatewayOpcodes.Identify)).toBe(identifies);
    // Delivered only by the replay on the second connection, never on the closed one.
    const deliveries = emulator.gateway.frames.entries.filter(
      (f) => f.t === GatewayDispatchEvents.InteractionCreate,
    );
    expect(deliveries.map((f) => f.connection)).toEqual([2]);
    const resume = emulator.gateway.frames.entries.find((f) => f.op === GatewayOpcodes.Resume);
    expect(resume?.d).toMatchObject({ session_id: expect.any(String), seq: expect.any(Number) });
  });

  it('identifies again after a non-resumable close (1000)', async () => {
    const harness = await start();
    const { emulator, client, guild } = harness;
    const next = nextClientSession(client);
    emulator.gateway.close(1000);
    expect(await next).toBe('ready');
    expect(emulator.gateway.countReceived(GatewayOpcodes.Identify)).toBe(2);
    expect(client.guilds.cache.has(guild.id)).toBe(true);
  });

  it('follows op 7 (reconnect → resume) and op 9 (invalid session → identify)', async () => {
    const harness = await start();
    const { emulator, client } = harness;
    const resumed = nextClientSession(client);
    emulator.gateway.requestReconnect();
    expect(await resumed).toBe('resumed');
    const ready = nextClientSession(client);
    emulator.gateway.invalidateSession(false);
    expect(await ready).toBe('ready');
  });

  it('lets the client detect a zombie connection when heartbeats go unacknowledged', async () => {
    const harness = await start({ heartbeatIntervalMs: 100 });
    const { emulator } = harness;
    await emulator.gateway.waitForNextOp(GatewayOpcodes.Heartbeat);
    emulator.gateway.setHeartbeatAcks(false);
    await emulator.gateway.waitForNextOp(GatewayOpcodes.Resume, { timeoutMs: 3_000 });
    const resumed = nextClientSession(harness.client);
    emulator.gateway.setHeartbeatAcks(true);
    expect(await resumed).toBe('resumed');
  });

  it('sends events in sequence', async () => {
    const harness = await start();
    const sequence = harness.emulator.gateway.frames.entries.filter((f) => f.s !== null).map((f) => f.s);
    expect(sequence).toEqual(sequence.map((_, index) => index + 1));
  });
});
