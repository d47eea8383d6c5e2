// /task settings end to end: the emulator, the real discord.js client, startBot, SQLite on disk. The
// server's default zone, what it changes (tasks created later) and what it doesn't (existing tasks).
import Sqlite from 'better-sqlite3';
import { InteractionResponseType } from 'discord-api-types/v10';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEEDS_MANAGE_SERVER } from '../../src/discord/router.js';
import { databaseBefore } from '../db/helpers.js';
import { startTestBot, type TestBot, type TestGuild } from './helpers.js';

let t: TestBot;
beforeAll(async () => {
  // Deferred early, so the locked-database case shows the deferral quickly on a slow machine.
  t = await startTestBot({ deferAfterMs: 200 });
});
afterAll(async () => {
  await t?.close();
});

/** Paris in winter or in summer: the label follows the day the test runs. */
const PARIS = /Europe\/Paris \(CES?T, UTC\+[12]\)/;
/** Kyiv, likewise. */
const KYIV = /Europe\/Kyiv \(EES?T, UTC\+[23]\)/;

/** The stored schedule's zone of a task of guild `guildId`, read from the database file. */
function storedZone(databasePath: string, guildId: string, name: string): unknown {
  const sqlite = new Sqlite(databasePath, { readonly: true });
  try {
    const schedule = sqlite
      .prepare('SELECT schedule FROM tasks WHERE guild_id = ? AND name = ?')
      .pluck()
      .get(guildId, name) as string;
    return JSON.parse(schedule).timeZone;
  } finally {
    sqlite.close();
  }
}

const complete = (value: string, guild: TestGuild = t.a) =>
  t.emulator.invokeAutocomplete({
    command: 'task',
    subcommand: 'settings',
    user: guild.admin,
    guild: guild.id,
    channel: guild.channels.general!,
    focused: 'timezone',
    value,
  });

describe('/task settings', () => {
  it('shows UTC as the default before anything is set', async () => {
    const reply = await t.run('settings');
    expect(reply).toContain('**Server settings**');
    expect(reply).toContain('Time zone: UTC (default).');
  });

  it('sets the zone from what people type; tasks created later use it, existing ones keep theirs', async () => {
    const general = t.a.channels.general!;
    const before = await t.run('create reminder', {
      name: 'before',
      channel: general,
      at: '09:00',
      message: 'a',
    });
    expect(before).toContain('(UTC)');

    const set = await t.run('settings', { timezone: 'paris' });
    expect(set).toMatch(
      new RegExp(`^This server's time zone is now ${PARIS.source}: tasks created from now on`),
    );
    expect(set).toContain('existing tasks keep their own zone');

    const shown = await t.run('settings');
    expect(shown).toMatch(new RegExp(`Time zone: ${PARIS.source}, set by <@${t.a.admin}> <t:\\d+:f>`));

    const after = await t.run('create reminder', {
      name: 'after',
      channel: general,
      at: '09:00',
      message: 'b',
    });
    expect(after).toContain('(Europe/Paris)');
    expect(await t.run('info', { name: 'before' })).toContain('(UTC)');
    // A zone given with the task still wins over the server's.
    const tokyo = await t.run('create reminder', {
      name: 'tokyo',
      channel: general,
      at: '09:00',
      timezone: 'JST',
      message: 'c',
    });
    expect(tokyo).toContain('(Asia/Tokyo)');
  });

  it("keeps each server's zone its own", async () => {
    expect(await t.run('settings', {}, { guild: t.b })).toContain('Time zone: UTC (default).');
    expect(await t.run('settings', { timezone: 'new york' }, { guild: t.b })).toContain(
      'now America/New_York (E',
    );
    expect(await t.run('settings')).toMatch(PARIS);
  });

  it('refuses an abbreviation several zones share, listing candidates, and changes nothing', async () => {
    expect(await t.run('settings', { timezone: 'CET' })).toBe(
      '"CET" is used by several time zones (Europe/Paris, Europe/Berlin, Europe/Madrid, …): ' +
        'pick one from the suggestions, or type your city.',
    );
    expect(await t.run('settings', { timezone: 'UTC+2' })).toMatch(
      /^"UTC\+2" is the UTC offset of several time zones \(.+\): pick one from the suggestions/,
    );
    expect(await t.run('settings')).toMatch(PARIS);
  });

  it('takes a fixed Etc/ zone picked knowingly, and says it is fixed', async () => {
    expect(await t.run('settings', { timezone: 'Etc/GMT-2' }, { guild: t.b })).toContain(
      'now Etc/GMT-2 (fixed UTC+2, no daylight saving)',
    );
  });

  it.each([
    ['   ', /^Give a time zone: type a city like Paris/],
    ['zzzz', /^"zzzz" is not a time zone I know: type a city like Paris/],
    ['UTC+25', /^"UTC\+25" is not a UTC offset in use: offsets run from UTC-12 to UTC\+14\.$/],
    ['+03:15', /^No time zone is at UTC\+3:15/],
    ['Mars/Olympus', /^"Mars\/Olympus" is not a time zone I know/],
    ['x'.repeat(100), /^"x{39}…" is not a time zone I know/],
    ['<@&123> @everyone', /is not a time zone I know/],
  ])('answers %j with one sentence', async (timezone, expected) => {
    const reply = await t.run('settings', { timezone });
    expect(reply).toMatch(expected);
    expect(reply).not.toContain('\n');
  });

  it('is for members with Manage Server only, even where a server shows /task to everyone', async () => {
    const member = { user: t.a.member, ignoreDefaultMemberPermissions: true };
    expect(await t.run('settings', {}, member)).toBe(NEEDS_MANAGE_SERVER);
    expect(await t.run('settings', { timezone: 'tokyo' }, member)).toBe(NEEDS_MANAGE_SERVER);
    expect(await t.run('settings')).toMatch(PARIS);
  });
});

describe('timezone autocomplete', () => {
  it('labels each zone with its abbreviation and offset; the value is the IANA name', async () => {
    const paris = await complete('paris');
    expect(paris[0]?.value).toBe('Europe/Paris');
    expect(paris[0]?.name).toMatch(new RegExp(`^${PARIS.source}$`));
    expect((await complete('mun'))[0]?.value).toBe('Europe/Berlin');
    expect(await complete('')).toHaveLength(25);
  });

  it('offers the candidates of an abbreviation or offset, within Discord limits', async () => {
    const cet = await complete('CET');
    expect(cet).toHaveLength(25);
    expect(cet.slice(0, 2).map((choice) => choice.value)).toEqual(['Europe/Paris', 'Europe/Berlin']);
    const offset = await complete('+05:30');
    expect(offset.map((choice) => choice.value)).toEqual(['Asia/Kolkata', 'Asia/Colombo']);
    for (const choice of [...cet, ...offset]) {
      expect(choice.name.length).toBeLessThanOrEqual(100);
      expect(String(choice.value).length).toBeLessThanOrEqual(100);
    }
  });

  it('says in one choice why nothing fits', async () => {
    expect(await complete('zzzz')).toEqual([
      { name: '"zzzz" is not a time zone I know: try a city like Paris.', value: 'zzzz' },
    ]);
    const [long] = await complete('y'.repeat(100));
    expect(long?.name.length).toBeLessThanOrEqual(100);
    expect(long?.value).toBe('y'.repeat(100));
  });
});

describe('renamed zones', () => {
  it('takes the old name and the new, and stores and shows the current one', async () => {
    const { b } = t;
    for (const typed of ['kiev', 'Europe/Kiev', 'Europe/Kyiv']) {
      expect(await t.run('settings', { timezone: typed }, { guild: b })).toMatch(
        new RegExp(`^This server's time zone is now ${KYIV.source}`),
      );
    }
    expect(await t.run('settings', {}, { guild: b })).toMatch(
      new RegExp(`Time zone: ${KYIV.source}, set by`),
    );
    const created = await t.run(
      'create reminder',
      {
        name: 'kyiv-standup',
        channel: b.channels.general!,
        at: '09:00',
        timezone: 'Europe/Kiev',
        message: 'hi',
      },
      { guild: b },
    );
    expect(created).toContain('(Europe/Kyiv)');
    expect(created).not.toContain('Kiev');
    expect(storedZone(t.databasePath, b.id, 'kyiv-standup')).toBe('Europe/Kyiv');
  });

  it('autocompletes the old name to the current zone', async () => {
    const [kie] = await complete('kie', t.b);
    expect(kie?.value).toBe('Europe/Kyiv');
    expect(kie?.name).toMatch(new RegExp(`^Kiev: ${KYIV.source}$`));
    for (const typed of ['kiev', 'Europe/Kiev']) {
      const [first] = await complete(typed, t.b);
      expect(first?.value).toBe('Europe/Kyiv');
      expect(first?.name).toMatch(new RegExp(`^${KYIV.source}$`));
    }
  });

  it('shows and keeps the current names where an older Metronome stored the old ones', async () => {
    const older = await startTestBot({
      before(databasePath, { a }) {
        const sqlite = databaseBefore(databasePath, '0004_current_zone_names');
        sqlite
          .prepare(
            "INSERT INTO guild_settings (guild_id, time_zone, updated_at, updated_by) VALUES (?, 'Europe/Kiev', 1, ?)",
          )
          .run(a.id, a.admin);
        sqlite
          .prepare(
            'INSERT INTO tasks (guild_id, name, kind, options, schedule, state, channel_id, created_by, ' +
              "created_at, updated_at) VALUES (?, 'standup', 'reminder', ?, ?, 'stopped', ?, ?, 1, 1)",
          )
          .run(
            a.id,
            JSON.stringify({ message: 'hi' }),
            JSON.stringify({ kind: 'times', times: ['09:00'], timeZone: 'Europe/Kiev' }),
            a.channels.general!,
            a.admin,
          );
        sqlite.close();
      },
    });
    try {
      expect(await older.run('settings')).toMatch(new RegExp(`Time zone: ${KYIV.source}, set by`));
      const info = await older.run('info', { name: 'standup' });
      expect(info).toContain('daily at 09:00 (Europe/Kyiv)');
      expect(info).not.toContain('Kiev');
      expect(storedZone(older.databasePath, older.a.id, 'standup')).toBe('Europe/Kyiv');
    } finally {
      await older.close();
    }
  });
});

describe('a locked database', () => {
  it('still shows the settings (WAL readers do not wait), and a change waits for the lock', async () => {
    const other = new Sqlite(t.databasePath);
    try {
      other.exec('BEGIN IMMEDIATE');
      expect(await t.run('settings')).toMatch(PARIS);
      const handle = t.emulator.invokeSlash({
        command: 'task',
        subcommand: 'settings',
        options: { timezone: 'tokyo' },
        user: t.a.admin,
        guild: t.a.id,
        channel: t.a.channels.general!,
      });
      try {
        const ack = await handle.waitForAck({ timeoutMs: 3_000 });
        expect(ack.type).toBe(InteractionResponseType.DeferredChannelMessageWithSource);
      } finally {
        other.exec('ROLLBACK');
      }
      const reply = await handle.waitForReply(undefined, { timeoutMs: 3_000 });
      expect(reply.content).toMatch(/^This server's time zone is now Asia\/Tokyo \(JST, UTC\+9\)/);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
    }
  });
});
