import { ChannelType, Events, GatewayDispatchEvents, type GuildMember } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { useHarness } from './harness.js';

describe('world changes reach the client cache', () => {
  const start = useHarness();

  it('adds and removes members', async () => {
    const harness = await start();
    const { emulator, client, guild } = harness;
    const cached = client.guilds.cache.get(guild.id)!;
    const before = cached.memberCount;
    const joined = new Promise<GuildMember>((resolve) => client.once(Events.GuildMemberAdd, resolve));
    const carol = emulator.world.addMember(guild.id, {
      user: { username: 'carol' },
      roles: [guild.roles.Mods!],
    });
    const member = await joined;
    expect(member.id).toBe(carol);
    expect(cached.memberCount).toBe(before + 1);
    expect(member.roles.cache.has(guild.roles.Mods!)).toBe(true);
    // discord.js announces a leave only for a cached member, and the bot's cache may hold none: wait for the
    // raw dispatch instead (its handler has run by the time this continues).
    const left = new Promise((resolve) =>
      client.on(Events.Raw, (packet: { t?: string }) => {
        if (packet.t === GatewayDispatchEvents.GuildMemberRemove) resolve(packet);
      }),
    );
    emulator.world.removeMember(guild.id, carol);
    await left;
    expect(cached.members.cache.has(carol)).toBe(false);
    expect(cached.memberCount).toBe(before);
  });

  it('applies a channel rename made by someone else, new channels and roles', async () => {
    const harness = await start();
    const { emulator, client, guild } = harness;
    const updated = new Promise((resolve) => client.once(Events.ChannelUpdate, resolve));
    emulator.world.updateChannel(guild.channels.general!, { name: 'renamed-by-admin' });
    await updated;
    expect(client.channels.cache.get(guild.channels.general!)).toMatchObject({ name: 'renamed-by-admin' });
    const created = new Promise((resolve) => client.once(Events.ChannelCreate, resolve));
    const id = emulator.world.createChannel(guild.id, { name: 'stats', type: 'voice' });
    await created;
    expect(client.channels.cache.get(id)?.type).toBe(ChannelType.GuildVoice);
    const roleCreated = new Promise((resolve) => client.once(Events.GuildRoleCreate, resolve));
    const role = emulator.world.createRole(guild.id, { name: 'Helpers', permissions: ['ManageMessages'] });
    await roleCreated;
    expect(client.guilds.cache.get(guild.id)?.roles.cache.get(role)?.permissions.has('ManageMessages')).toBe(
      true,
    );
  });

  it('announces a guild created after login', async () => {
    const harness = await start();
    const { emulator, client } = harness;
    const joined = new Promise((resolve) => client.once(Events.GuildCreate, resolve));
    const second = emulator.world.createGuild({ name: 'Second', channels: [{ name: 'lobby' }] });
    await joined;
    expect(client.guilds.cache.get(second.id)?.channels.cache.size).toBe(1);
  });

  it('fetches members over the gateway (op 8)', async () => {
    const harness = await start();
    const { client, guild } = harness;
    const members = await client.guilds.cache.get(guild.id)!.members.fetch();
    expect(members.map((m) => m.user.username).sort()).toEqual([
      'Metronome',
      'Test Guild-owner',
      'alice',
      'bob',
    ]);
  });

  it("filters dispatches by intents and blanks others' content without Message Content", async () => {
    const harness = await start({ intents: ['Guilds', 'GuildMessages'] });
    const { emulator, guild } = harness;
    const general = guild.channels.general!;
    emulator.world.postMessage({ channel: general, author: guild.members.alice!, content: 'secret' });
    const created = await emulator.gateway.waitForDispatch(GatewayDispatchEvents.MessageCreate);
    expect(created.d).toMatchObject({ content: '', author: { id: guild.members.alice } });
    expect(emulator.world.messages(general)[0]?.message.content).toBe('secret');
    // Without GuildMembers the join is not sent; the channel update after it (Guilds) is.
    emulator.world.addMember(guild.id, { user: { username: 'carol' } });
    emulator.world.updateChannel(general, { topic: 'after carol' });
    await emulator.gateway.waitForDispatch(GatewayDispatchEvents.ChannelUpdate);
    const sent = emulator.gateway.frames.entries.filter((f) => f.direction === 'sent').map((f) => f.t);
    expect(sent).not.toContain(GatewayDispatchEvents.GuildMemberAdd);
  });
});
