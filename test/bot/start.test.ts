// startBot as a whole: command sync only when definitions change, tasks surviving a restart, clean stop.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../../emulator/index.js';
import { startTestBot, type TestBot } from '../commands/helpers.js';
import { runningTasks } from '../tasks/helpers.js';

const MORE_HANDLERS = fileURLToPath(new URL('./fixtures/more-handlers', import.meta.url));

const isCommandPut = (request: RecordedRequest) =>
  request.method === 'PUT' && /^\/applications\/\d+(\/guilds\/\d+)?\/commands$/.test(request.path);

let t: TestBot | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('command sync', () => {
  it('registers once, skips an unchanged restart, and re-registers when a handler kind is added', async () => {
    t = await startTestBot();
    expect(t.bot.started.commands).toBe('updated');
    expect(t.emulator.requests.filter(isCommandPut)).toHaveLength(1);

    const again = await t.restart();
    expect(again.started.commands).toBe('unchanged');
    expect(t.emulator.requests.filter(isCommandPut)).toHaveLength(1);

    const more = await t.restart(MORE_HANDLERS);
    expect(more.started.commands).toBe('updated');
    const puts = t.emulator.requests.filter(isCommandPut);
    expect(puts).toHaveLength(2);
    const create = t.emulator.commands.list(null)[0]?.options?.find((o) => o.name === 'create');
    expect(create && 'options' in create ? create.options?.map((o) => o.name) : []).toContain('extra');
    expect(
      await t.run('create extra', { name: 'added', channel: t.a.channels.general!, every: '1h' }),
    ).toContain('Created **added**');
  });

  it('registers to DEV_GUILD_ID only, with a guild-scoped PUT', async () => {
    t = await startTestBot({ devGuild: true });
    const [put] = t.emulator.requests.filter(isCommandPut);
    expect(put?.path).toMatch(new RegExp(`/guilds/${t.a.id}/commands$`));
    expect(t.emulator.commands.list(null)).toEqual([]);
    expect(t.emulator.commands.list(t.a.id).map((c) => c.name)).toEqual(['task']);
    expect(await t.run('list')).toContain('no tasks yet');
  });

  it('empties the old dev guild when DEV_GUILD_ID is unset, once, and leaves no duplicate', async () => {
    t = await startTestBot({ devGuild: true });
    const guildA = t.a.id;
    expect(t.emulator.commands.list(guildA).map((c) => c.name)).toEqual(['task']);

    await t.restart(undefined, { devGuildId: undefined });
    expect(t.emulator.commands.list(null).map((c) => c.name)).toEqual(['task']);
    expect(t.emulator.commands.list(guildA)).toEqual([]);
    const cleared = t.emulator.requests.filter(
      (r) => isCommandPut(r) && r.path.endsWith(`/guilds/${guildA}/commands`) && r.status === 200,
    );
    expect(cleared.at(-1)?.body).toEqual([]);

    // The old scope is forgotten: the next start touches nothing.
    const before = t.emulator.requests.filter(isCommandPut).length;
    expect((await t.restart()).started.commands).toBe('unchanged');
    expect(t.emulator.requests.filter(isCommandPut)).toHaveLength(before);
  });

  it('moves the commands from one dev guild to another', async () => {
    t = await startTestBot({ devGuild: true });
    await t.restart(undefined, { devGuildId: t.b.id });
    expect(t.emulator.commands.list(t.a.id)).toEqual([]);
    expect(t.emulator.commands.list(t.b.id).map((c) => c.name)).toEqual(['task']);
    expect(t.emulator.commands.list(null)).toEqual([]);
    expect(await t.run('list', {}, { guild: t.b })).toContain('no tasks yet');
  });

  it('starts anyway when the old guild cannot be emptied, and retries on the next start', async () => {
    t = await startTestBot({ devGuild: true });
    const oldScope = { method: 'PUT', path: new RegExp(`/guilds/${t.a.id}/commands$`) };
    t.emulator.rest.faults.fail(oldScope, { status: 500, times: 10 });
    await t.restart(undefined, { devGuildId: undefined });
    expect(t.emulator.commands.list(t.a.id).map((c) => c.name)).toEqual(['task']);
    t.emulator.rest.faults.clear();
    await t.restart();
    expect(t.emulator.commands.list(t.a.id)).toEqual([]);
  });

  it('forgets an old guild it can no longer reach (403) instead of retrying forever', async () => {
    t = await startTestBot({ devGuild: true });
    const oldScope = { method: 'PUT', path: new RegExp(`/guilds/${t.a.id}/commands$`) };
    t.emulator.rest.faults.fail(oldScope, { status: 403, times: 1 });
    await t.restart(undefined, { devGuildId: undefined });
    const tries = () => t!.emulator.requests.filter((r) => isCommandPut(r) && oldScope.path.test(r.path));
    const afterFirst = tries().length;
    expect(afterFirst).toBeGreaterThan(0);
    await t.restart();
    expect(tries()).toHaveLength(afterFirst);
  });

  it('puts required options first, as Discord demands', () => {
    return startTestBot().then((started) => {
      t = started;
      const create = t.emulator.commands.list(null)[0]?.options?.find((o) => o.name === 'create');
      const slow = create && 'options' in create ? create.options?.find((o) => o.name === 'slow') : undefined;
      const options = (slow && 'options' in slow ? slow.options : []) as {
        name: string;
        required?: boolean;
      }[];
      expect(options.map((o) => [o.name, o.required ?? false])).toEqual([
        ['name', true],
        ['channel', true],
        ['ms', true],
        ['every', false],
        ['at', false],
        ['timezone', false],
        ['cron', false],
        ['count', false],
        ['catchup', false],
        ['timeout', false],
      ]);
    });
  });
});

describe('restart', () => {
  it('resumes running tasks and keeps stopped ones stopped', async () => {
    t = await startTestBot();
    await t.run('create fragile', { name: 'keeps', channel: t.a.channels.general!, every: '1h' });
    await t.run('create fragile', { name: 'rests', channel: t.a.channels.general!, every: '1h' });
    await t.run('stop', { name: 'rests' });
    const bot = await t.restart();
    expect(bot.started.resumed.resumed).toBe(1);
    expect(runningTasks(bot.runtime)).toBe(1);
    const list = await t.run('list');
    expect(list).toMatch(/\*\*keeps\*\* \(fragile\) running, next <t:\d+:R>/);
    expect(list).toContain('**rests** (fragile) stopped, not scheduled');
  });
});

describe('gateway lifecycle', () => {
  it('logs a lost connection and its resume, and commands work after it', async () => {
    t = await startTestBot();
    t.emulator.gateway.close(4000, 'Unknown error');
    await expect
      .poll(() => t!.logs.some((line) => line.msg === 'gateway connection lost; reconnecting'))
      .toBe(true);
    await t.emulator.gateway.waitForNextSession();
    expect(await t.run('list')).toContain('no tasks yet');
  });
});
