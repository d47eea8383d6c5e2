// A task's channel always belongs to the task's server: a forged interaction naming another server's
// channel is refused, and a stored channel of another server (forged before this check, or edited in the
// database) is refused by /task interval and fails the run without posting or renaming anything there.
import Sqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestBot, type TestBot } from './helpers.js';

let t: TestBot;
let sql: Sqlite.Database;
beforeAll(async () => {
  t = await startTestBot();
  sql = new Sqlite(t.databasePath);
});
afterAll(async () => {
  sql?.close();
  await t?.close();
});

interface TaskRow {
  state: string;
  channel_id: string;
  schedule: string;
  last_error: string | null;
}

function row(guildId: string, name: string): TaskRow | undefined {
  return sql
    .prepare('SELECT state, channel_id, schedule, last_error FROM tasks WHERE guild_id = ? AND name = ?')
    .get(guildId, name) as TaskRow | undefined;
}

/** What an older version (or someone editing the database) may have stored: a channel of server A. */
function moveToChannel(guildId: string, name: string, channelId: string): void {
  sql
    .prepare('UPDATE tasks SET channel_id = ? WHERE guild_id = ? AND name = ?')
    .run(channelId, guildId, name);
}

const botPostsIn = (channelId: string) =>
  t.emulator.world.messages(channelId).filter((m) => m.message.author.id === t.emulator.world.botUser.id);

describe('a channel of another server', () => {
  it('is refused by /task create in a forged interaction, and nothing is created or posted', async () => {
    const aGeneral = t.a.channels.general!;
    const reply = await t.run(
      'create reminder',
      { name: 'leak', channel: aGeneral, every: '1h', message: 'posted into server A' },
      { guild: t.b },
    );
    expect(reply).toBe(`<#${aGeneral}> is not a channel of this server; pick one of this server's channels.`);
    expect(row(t.b.id, 'leak')).toBeUndefined();
    expect(botPostsIn(aGeneral)).toEqual([]);
    // discord.js filed server A's channel under server B on receipt; the bot took it back out.
    expect(t.bot.client.guilds.cache.get(t.b.id)!.channels.cache.has(aGeneral)).toBe(false);
    expect(
      await t.run(
        'create counter',
        { name: 'leak2', channel: t.a.channels.stats!, every: '10m', template: 'x {members}' },
        { guild: t.b },
      ),
    ).toBe(`<#${t.a.channels.stats}> is not a channel of this server; pick one of this server's channels.`);
    // Server B's own channels still work.
    expect(
      await t.run(
        'create reminder',
        { name: 'fine', channel: t.b.channels.general!, every: '1h', message: 'hello B' },
        { guild: t.b },
      ),
    ).toMatch(/^Created \*\*fine\*\*/);
  });

  it('is refused when the bot is not in that server: Discord, not the cache, says where it is', async () => {
    // discord.js makes the unknown channel up from the interaction and files it under server B.
    const c = t.emulator.world.createGuild({ name: 'c', withoutBot: true, channels: [{ name: 'general' }] });
    const cGeneral = c.channels.general!;
    expect(
      await t.run(
        'create reminder',
        { name: 'leak3', channel: cGeneral, every: '1h', message: 'posted into server C' },
        { guild: t.b },
      ),
    ).toBe(`I can't see <#${cGeneral}>; pick a channel I can view.`);
    expect(row(t.b.id, 'leak3')).toBeUndefined();
  });

  it('is asked of Discord once per channel: a channel Discord placed in this server is remembered', async () => {
    const channel = t.b.channels.general!;
    const lookups = () =>
      t.emulator.requests.filter((r) => r.method === 'GET' && r.path === `/channels/${channel}`).length;
    await t.run('create reminder', { name: 'once-a', channel, every: '1h', message: 'a' }, { guild: t.b });
    const afterFirst = lookups();
    expect(afterFirst).toBeLessThanOrEqual(1); // 0 if an earlier test already placed it
    await t.run('create reminder', { name: 'once-b', channel, every: '1h', message: 'b' }, { guild: t.b });
    await t.run('create reminder', { name: 'once-c', channel, every: '1h', message: 'c' }, { guild: t.b });
    expect(lookups()).toBe(afterFirst);
    expect(row(t.b.id, 'once-c')).toMatchObject({ state: 'running' });
  });

  it('stored on a task makes /task interval refuse to change it', async () => {
    await t.run(
      'create reminder',
      { name: 'moved', channel: t.b.channels.general!, every: '1h', message: 'moved' },
      { guild: t.b },
    );
    moveToChannel(t.b.id, 'moved', t.a.channels.general!);
    const before = row(t.b.id, 'moved')!.schedule;
    expect(await t.run('interval', { name: 'moved', every: '2h' }, { guild: t.b })).toBe(
      '**moved** posts in a channel of another server, which is not allowed; delete it and create it again with a channel of this server.',
    );
    expect(row(t.b.id, 'moved')!.schedule).toBe(before);
  });

  it('stored on a task fails its run without posting there', async () => {
    await t.run(
      'create reminder',
      { name: 'stray', channel: t.b.channels.announcements!, every: '1h', message: 'stray post' },
      { guild: t.b },
    );
    await vi.waitFor(() => expect(botPostsIn(t.b.channels.announcements!)).toHaveLength(1));
    moveToChannel(t.b.id, 'stray', t.a.channels.announcements!);
    // A restart runs its first slot at once, in the stored channel.
    expect(await t.run('restart', { name: 'stray' }, { guild: t.b })).toMatch(/stray/);
    const failed = await vi.waitFor(
      () => {
        const current = row(t.b.id, 'stray')!;
        expect(current.state).toBe('failed');
        return current;
      },
      { timeout: 5_000, interval: 20 },
    );
    expect(failed.last_error).toBe(
      `the task's channel (${t.a.channels.announcements}) belongs to another server, so it will not run; delete the task and create it again with a channel of this server`,
    );
    expect(botPostsIn(t.a.channels.announcements!)).toEqual([]);
  });

  it('stored on a renaming counter fails its run without renaming the other server’s channel', async () => {
    const aStats = t.a.channels.stats!;
    const nameBefore = t.emulator.world.channel(aStats).name;
    await t.run(
      'create counter',
      { name: 'tally', channel: t.b.channels.stats!, every: '10m', template: 'Members {members}' },
      { guild: t.b },
    );
    await vi.waitFor(() =>
      expect(t.emulator.world.channel(t.b.channels.stats!).name).toMatch(/^Members \d+$/),
    );
    moveToChannel(t.b.id, 'tally', aStats);
    // After a bot restart server B's cache is clean, and the counter reaches channels through the client's
    // cache, where server A's channel is known: the run must still not touch it.
    await t.restart();
    await vi.waitFor(() => expect(row(t.b.id, 'tally')?.state).toBe('running'));
    await t.run('restart', { name: 'tally' }, { guild: t.b });
    const failed = await vi.waitFor(
      () => {
        const current = row(t.b.id, 'tally')!;
        expect(current.state).toBe('failed');
        return current;
      },
      { timeout: 5_000, interval: 20 },
    );
    expect(failed.last_error).toContain('belongs to another server');
    expect(t.emulator.world.channel(aStats).name).toBe(nameBefore);
  });
});

describe('a role of another server', () => {
  it('is refused by /task create and /task edit in a forged interaction, and nothing pings it', async () => {
    const aCrew = t.a.roles.Crew!;
    const bGeneral = t.b.channels.general!;
    const refusal = "The `role` option is not a role of this server; pick one of this server's roles.";
    expect(
      await t.run(
        'create reminder',
        { name: 'ping-a', channel: bGeneral, every: '1h', message: 'hi', role: aCrew },
        { guild: t.b },
      ),
    ).toBe(refusal);
    expect(row(t.b.id, 'ping-a')).toBeUndefined();

    await t.run(
      'create reminder',
      { name: 'ping-b', channel: bGeneral, every: '1h', message: 'hi' },
      { guild: t.b },
    );
    expect(await t.run('edit', { name: 'ping-b', role: aCrew }, { guild: t.b })).toBe(refusal);
    const stored = sql
      .prepare('SELECT options FROM tasks WHERE guild_id = ? AND name = ?')
      .get(t.b.id, 'ping-b') as { options: string };
    expect(JSON.parse(stored.options)).not.toHaveProperty('role');
    await t.run('delete', { name: 'ping-b' }, { guild: t.b });
  });
});
