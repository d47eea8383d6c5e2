// What every /task interaction shares: who may use it, which server's tasks it sees, autocomplete, and an
// answer even when the command throws.
import { InteractionContextType, PermissionFlagsBits } from 'discord-api-types/v10';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvocationError } from '../../emulator/index.js';
import { NEEDS_MANAGE_SERVER, SOMETHING_WENT_WRONG } from '../../src/discord/router.js';
import { startTestBot, type TestBot } from './helpers.js';

let t: TestBot;
beforeAll(async () => {
  t = await startTestBot();
  for (const name of ['alpha', 'alpine', 'beta']) {
    await t.run('create reminder', { name, channel: t.a.channels.general!, every: '1h', message: name });
  }
  await t.run(
    'create reminder',
    { name: 'bravo', channel: t.b.channels.general!, every: '1h', message: 'b' },
    { guild: t.b },
  );
});
afterAll(async () => {
  await t?.close();
});

describe('who may use /task', () => {
  it('is registered for Manage Server, in servers only', () => {
    const [command] = t.emulator.commands.list(null);
    expect(command?.default_member_permissions).toBe(String(PermissionFlagsBits.ManageGuild));
    expect(command?.contexts).toEqual([InteractionContextType.Guild]);
    // Discord hides the command from a member without Manage Server.
    expect(() =>
      t.emulator.invokeSlash({
        command: 'task',
        subcommand: 'list',
        user: t.a.member,
        guild: t.a.id,
        channel: t.a.channels.general!,
      }),
    ).toThrow(InvocationError);
  });

  it('refuses a crafted interaction from a member without Manage Server, for every subcommand', async () => {
    const as = { user: t.a.member, ignoreDefaultMemberPermissions: true };
    expect(await t.run('list', {}, as)).toBe(NEEDS_MANAGE_SERVER);
    expect(await t.run('delete', { name: 'alpha' }, as)).toBe(NEEDS_MANAGE_SERVER);
    expect(
      await t.run(
        'create reminder',
        { name: 'sneaky', channel: t.a.channels.general!, every: '1h', message: 'x' },
        as,
      ),
    ).toBe(NEEDS_MANAGE_SERVER);
    expect(await t.run('info', { name: 'alpha' })).toContain('**alpha**');
    expect(await t.run('info', { name: 'sneaky' })).toBe('This server has no task named "sneaky".');
    const choices = await t.emulator.invokeAutocomplete({
      command: 'task',
      subcommand: 'info',
      user: t.a.member,
      guild: t.a.id,
      channel: t.a.channels.general!,
      focused: 'name',
      value: '',
      ignoreDefaultMemberPermissions: true,
    });
    expect(choices).toEqual([]);
  });
});

describe('one server never sees another', () => {
  it('keeps list, info and lifecycle commands to the server they come from', async () => {
    const listB = await t.run('list', {}, { guild: t.b });
    expect(listB).toContain('**bravo**');
    expect(listB).not.toContain('alpha');
    expect(await t.run('info', { name: 'alpha' }, { guild: t.b })).toBe(
      'This server has no task named "alpha".',
    );
    expect(await t.run('stop', { name: 'bravo' })).toBe('This server has no task named "bravo".');
    // The same name may exist in both servers.
    expect(
      await t.run(
        'create reminder',
        { name: 'alpha', channel: t.b.channels.general!, every: '1h', message: 'b' },
        { guild: t.b },
      ),
    ).toContain('Created **alpha**');
    expect(await t.run('delete', { name: 'alpha' }, { guild: t.b })).toContain('Deleted');
    expect(await t.run('info', { name: 'alpha' })).toContain('**alpha**');
  });
});

describe('autocomplete', () => {
  const complete = (focused: string, value: string, guild = t.a, subcommand = 'info') =>
    t.emulator.invokeAutocomplete({
      command: 'task',
      subcommand,
      user: guild.admin,
      guild: guild.id,
      channel: guild.channels.general!,
      focused,
      value,
    });

  it("suggests this server's tasks, filtered by what was typed", async () => {
    expect((await complete('name', '')).map((c) => c.value)).toEqual(['alpha', 'alpine', 'beta']);
    expect((await complete('name', 'alp')).map((c) => c.value)).toEqual(['alpha', 'alpine']);
    expect((await complete('name', 'b', t.b, 'delete')).map((c) => c.value)).toEqual(['bravo']);
    expect(await complete('name', 'zzz')).toEqual([]);
    expect((await complete('name', 'ALPH'))[0]).toEqual({
      name: 'alpha (reminder, running)',
      value: 'alpha',
    });
  });

  it('caps suggestions at 25', async () => {
    for (let i = 0; i < 30; i++) {
      await t.run(
        'create fragile',
        { name: `many-${i}`, channel: t.b.channels.general!, every: '1h' },
        { guild: t.b },
      );
    }
    const choices = await complete('name', 'many', t.b, 'start');
    expect(choices).toHaveLength(25);
  });

  it('suggests time zones', async () => {
    const zones = await complete('timezone', 'paris', t.a, 'interval');
    expect(zones[0]?.value).toBe('Europe/Paris');
    expect(zones[0]?.name).toMatch(/^Europe\/Paris \(CES?T, UTC\+[12]\)$/);
    expect((await complete('timezone', '', t.a, 'interval')).length).toBe(25);
    const forCreate = await t.emulator.invokeAutocomplete({
      command: 'task',
      group: 'create',
      subcommand: 'reminder',
      user: t.a.admin,
      guild: t.a.id,
      channel: t.a.channels.general!,
      focused: 'timezone',
      value: 'new_y',
    });
    expect(forCreate.map((c) => c.value)).toContain('America/New_York');
  });
});

describe('failures inside a command', () => {
  it('still answers, and logs the error with its context', async () => {
    await t.run('create fragile', { name: 'glass', channel: t.a.channels.general!, every: '1h' });
    expect(await t.run('info', { name: 'glass' })).toBe(SOMETHING_WENT_WRONG);
    const logged = t.logs.find((line) => line.msg === 'command failed');
    expect(logged).toMatchObject({
      error: 'status exploded',
      command: '/task info',
      guildId: t.a.id,
      userId: t.a.admin,
    });
    // The bot is still there.
    expect(await t.run('list')).toContain('**glass**');
  });
});
