// When the database refuses a command, the admin hears what happened and who can fix it, within Discord's
// 3 seconds, and nothing is half-done. Faults are real where a test can make them: another connection's
// write lock (BUSY), a page limit on the bot's own connection (FULL), query_only (READONLY), an overwritten
// page (CORRUPT). A disk I/O error and an unopenable file cannot be made on the fly, so a fixture handler
// raises those SqliteErrors inside a real /task create (see fixtures/fault-handlers/faulty.ts).
import { closeSync, openSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_FAULT_SENTENCES } from '../../src/db/errors.js';
import { startTestBot, type TestBot } from './helpers.js';

const FAULT_HANDLERS = fileURLToPath(new URL('./fixtures/fault-handlers', import.meta.url));
/** Discord's deadline for the first answer; a deferred reply must also be edited by then to be useful. */
const DISCORD_DEADLINE_MS = 3_000;

let t: TestBot;
/** A second connection to the bot's database file, as another process would hold it. */
let other: Sqlite.Database;
beforeAll(async () => {
  t = await startTestBot({ handlersDir: FAULT_HANDLERS });
  other = new Sqlite(t.databasePath);
  other.pragma('busy_timeout = 5000');
  expect(
    await t.run('create reminder', {
      name: 'alpha',
      channel: t.a.channels.general!,
      every: '1h',
      message: 'a',
    }),
  ).toMatch(/^Created/);
});
afterAll(async () => {
  if (other?.inTransaction) other.exec('ROLLBACK');
  other?.close();
  await t?.close();
});

const taskNames = () =>
  other.prepare('SELECT name FROM tasks WHERE guild_id = ? ORDER BY name').pluck().all(t.a.id) as string[];

/** Runs the command and returns its reply and how long the member waited for it. */
async function timed(
  path: string,
  options: Record<string, string> = {},
): Promise<{ reply: string; ms: number }> {
  const startedAt = Date.now();
  const reply = await t.run(path, options);
  return { reply, ms: Date.now() - startedAt };
}

describe('a database locked by another process', () => {
  it('gets every command a plain answer within 3 s, and the commands work once the lock is gone', async () => {
    other.exec('BEGIN IMMEDIATE');
    try {
      const create = await timed('create reminder', {
        name: 'held',
        channel: t.a.channels.general!,
        every: '1h',
        message: 'held',
      });
      expect(create.reply).toBe('The database is busy; nothing was changed. Try again in a moment.');
      expect(create.ms).toBeLessThan(DISCORD_DEADLINE_MS);
      const stop = await timed('stop', { name: 'alpha' });
      expect(stop.reply).toBe(DATABASE_FAULT_SENTENCES.busy);
      expect(stop.ms).toBeLessThan(DISCORD_DEADLINE_MS);
      // Reads go on under a write lock (WAL).
      expect((await timed('list')).reply).toContain('**alpha**');
    } finally {
      other.exec('ROLLBACK');
    }
    expect(taskNames()).toEqual(['alpha']);
    expect(
      await t.run('create reminder', {
        name: 'held',
        channel: t.a.channels.general!,
        every: '1h',
        message: 'held',
      }),
    ).toMatch(/^Created \*\*held\*\*/);
    expect(await t.run('stop', { name: 'alpha' })).toMatch(/^Stopped \*\*alpha\*\*/);
    const logged = t.logs.find((line) => line.msg === 'command hit a database fault');
    expect(logged).toMatchObject({ fault: 'busy', code: 'SQLITE_BUSY', command: '/task create reminder' });
  });
});

describe('a database that cannot be written', () => {
  it('says the disk is full when the database cannot grow, and works again once it can', async () => {
    const sqlite = t.bot.db.sqlite;
    const message = 'x'.repeat(2_000);
    expect(
      await t.run('create reminder', { name: 'big1', channel: t.a.channels.general!, every: '1h', message }),
    ).toMatch(/^Created/);
    // No free pages, and no room to add one: the next 2 KB row cannot fit beside big1's in its page.
    sqlite.exec('VACUUM');
    sqlite.pragma(`max_page_count = ${sqlite.pragma('page_count', { simple: true })}`);
    try {
      const { reply, ms } = await timed('create reminder', {
        name: 'big2',
        channel: t.a.channels.general!,
        every: '1h',
        message,
      });
      expect(reply).toBe("The bot's disk is full; nothing was changed. Tell whoever runs the bot.");
      expect(ms).toBeLessThan(DISCORD_DEADLINE_MS);
      expect(taskNames()).not.toContain('big2');
    } finally {
      sqlite.pragma('max_page_count = 4294967294');
    }
    expect(
      await t.run('create reminder', { name: 'big2', channel: t.a.channels.general!, every: '1h', message }),
    ).toMatch(/^Created/);
  });

  it('says the database is read-only when it refuses writes', async () => {
    const sqlite = t.bot.db.sqlite;
    sqlite.pragma('query_only = ON');
    try {
      expect(await t.run('delete', { name: 'big2' })).toBe(
        "The bot's database is read-only right now; nothing was changed. Tell whoever runs the bot.",
      );
    } finally {
      sqlite.pragma('query_only = OFF');
    }
    expect(taskNames()).toContain('big2');
  });

  it('names a disk error, an unopenable file and a lack of memory, each in its own sentence', async () => {
    const cases = [
      ['SQLITE_IOERR_WRITE', DATABASE_FAULT_SENTENCES.io],
      ['SQLITE_CANTOPEN', DATABASE_FAULT_SENTENCES.cantopen],
      ['SQLITE_NOMEM', DATABASE_FAULT_SENTENCES.nomem],
      ['SQLITE_LOCKED', DATABASE_FAULT_SENTENCES.busy],
    ] as const;
    for (const [code, sentence] of cases) {
      expect(
        await t.run('create faulty', { name: 'faulty', channel: t.a.channels.general!, every: '1h', code }),
      ).toBe(sentence);
    }
    expect(taskNames()).not.toContain('faulty');
    // A SQLite error that is a bug of ours, not a fault of the machine, still gets the generic answer.
    expect(
      await t.run('create faulty', {
        name: 'faulty',
        channel: t.a.channels.general!,
        every: '1h',
        code: 'SQLITE_MISMATCH',
      }),
    ).toMatch(/^Something went wrong/);
  });
});

describe('a damaged database', () => {
  it('says so, and that it needs restoring from a backup', async () => {
    const sqlite = t.bot.db.sqlite;
    const pageSize = sqlite.pragma('page_size', { simple: true }) as number;
    const root = other
      .prepare("SELECT rootpage FROM sqlite_master WHERE name = 'tasks'")
      .pluck()
      .get() as number;
    sqlite.pragma('wal_checkpoint(TRUNCATE)');
    const fd = openSync(t.databasePath, 'r+');
    try {
      writeSync(fd, Buffer.alloc(pageSize, 0xff), 0, pageSize, (root - 1) * pageSize);
    } finally {
      closeSync(fd);
    }
    // Another connection's commit makes the bot's connection drop its page cache and read the file again.
    other.exec('CREATE TABLE scratch (x)');
    expect(await t.run('list')).toBe(
      "The bot's database is damaged; nothing was changed. Tell whoever runs the bot: it needs restoring from a backup.",
    );
  });
});
