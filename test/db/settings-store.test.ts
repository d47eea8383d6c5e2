// The guild_settings table: migration 0003 on a database made by the previous version, and its store functions.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { describe, expect, it } from 'vitest';
import {
  getGuildSettings,
  getTask,
  guildTimeZone,
  insertTask,
  MIGRATIONS_FOLDER,
  openDatabase,
  setGuildTimeZone,
} from '../../src/db/index.js';
import { taskValues, useTempDir } from './helpers.js';

describe('guild settings', () => {
  const tempDbPath = useTempDir();

  it('migration 0003 adds the table to a database of the previous version, keeping its tasks', () => {
    const path = tempDbPath();
    mkdirSync(dirname(path), { recursive: true });
    // The migrations as the previous version shipped them: the same files, the journal without 0003.
    const previous = join(dirname(path), 'migrations-0002');
    cpSync(MIGRATIONS_FOLDER, previous, { recursive: true });
    const journalPath = join(previous, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] };
    expect(journal.entries.map((entry) => entry.tag)).toContain('0003_guild_settings');
    journal.entries = journal.entries.filter((entry) => entry.tag < '0003');
    writeFileSync(journalPath, JSON.stringify(journal));
    const old = new Sqlite(path);
    const oldDb = drizzle({ client: old });
    migrate(oldDb, { migrationsFolder: previous, migrationsTable: '__drizzle_migrations' });
    old
      .prepare(
        "INSERT INTO tasks (guild_id, name, kind, schedule, channel_id, created_by, created_at, updated_at) VALUES ('g1', 'daily', 'reminder', '{\"kind\":\"interval\",\"seconds\":60}', 'c1', 'u1', 1, 1)",
      )
      .run();
    const tablesBefore = old.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    expect(tablesBefore).not.toContain('guild_settings');
    old.close();

    const conn = openDatabase(path);
    try {
      const columns = conn.sqlite.prepare('PRAGMA table_info(guild_settings)').all() as {
        name: string;
        notnull: number;
        pk: number;
      }[];
      expect(columns.map((c) => [c.name, c.notnull, c.pk])).toEqual([
        ['guild_id', 1, 1],
        ['time_zone', 0, 0],
        ['updated_at', 1, 0],
        ['updated_by', 1, 0],
      ]);
      expect(getTask(conn.db, 'g1', 'daily')?.schedule).toEqual({ kind: 'interval', seconds: 60 });
      expect(guildTimeZone(conn.db, 'g1')).toBe('UTC');
    } finally {
      conn.close();
    }
  });

  it('defaults to UTC, stores one zone per server, and a later change replaces it', () => {
    const conn = openDatabase(tempDbPath());
    try {
      insertTask(conn.db, taskValues());
      expect(getGuildSettings(conn.db, 'g1')).toBeUndefined();
      expect(guildTimeZone(conn.db, 'g1')).toBe('UTC');

      const saved = setGuildTimeZone(conn.db, 'g1', 'Europe/Paris', { by: 'u1', now: 1_000 });
      expect(saved).toEqual({ guildId: 'g1', timeZone: 'Europe/Paris', updatedAt: 1_000, updatedBy: 'u1' });
      setGuildTimeZone(conn.db, 'g2', 'Asia/Tokyo', { by: 'u2', now: 2_000 });
      setGuildTimeZone(conn.db, 'g1', 'America/New_York', { by: 'u3', now: 3_000 });

      expect(getGuildSettings(conn.db, 'g1')).toEqual({
        guildId: 'g1',
        timeZone: 'America/New_York',
        updatedAt: 3_000,
        updatedBy: 'u3',
      });
      expect(guildTimeZone(conn.db, 'g2')).toBe('Asia/Tokyo');
      expect(conn.sqlite.prepare('SELECT count(*) FROM guild_settings').pluck().get()).toBe(2);
    } finally {
      conn.close();
    }
  });
});
