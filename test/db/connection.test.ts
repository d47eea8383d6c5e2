import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatabaseFileError, getTask, insertTask, openDatabase } from '../../src/db/index.js';
import { taskValues, useTempDir } from './helpers.js';

describe('openDatabase', () => {
  const tempDbPath = useTempDir();

  it('creates the folder, applies migrations and tunes the connection', () => {
    const path = tempDbPath();
    const conn = openDatabase(path);
    try {
      expect(existsSync(dirname(path))).toBe(true);
      expect(conn.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(conn.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
      // Short: better-sqlite3 waits synchronously, blocking the event loop (callers retry asynchronously).
      expect(conn.sqlite.pragma('busy_timeout', { simple: true })).toBe(100);
      expect(conn.sqlite.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
      const tables = conn.sqlite
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .pluck()
        .all();
      expect(tables).toEqual(
        expect.arrayContaining([
          'tasks',
          'task_runs',
          'counter_state',
          'leaderboard_state',
          'message_counts',
          'members_seen',
          'handler_state',
          'meta',
        ]),
      );
    } finally {
      conn.close();
    }
  });

  it('is idempotent: opening twice keeps the data and applies nothing twice', () => {
    const path = tempDbPath();
    const first = openDatabase(path);
    insertTask(first.db, taskValues());
    const applied = first.sqlite.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get();
    first.close();

    const second = openDatabase(path);
    try {
      expect(second.sqlite.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get()).toBe(applied);
      expect(getTask(second.db, 'g1', 'daily')?.kind).toBe('reminder');
    } finally {
      second.close();
    }
  });

  it('refuses a database migrated by a newer version, naming its path', () => {
    const path = tempDbPath();
    const conn = openDatabase(path);
    conn.sqlite
      .prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)')
      .run('a-migration-from-the-future', Date.now() + 1_000_000);
    conn.close();

    expect(() => openDatabase(path)).toThrow(DatabaseFileError);
    expect(() => openDatabase(path)).toThrow(path);
    expect(() => openDatabase(path)).toThrow(/newer version/);
  });

  it('refuses a file that is not a database, and creates nothing beside it', () => {
    const path = tempDbPath();
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, 'not a database\n'.repeat(100));
    expect(() => openDatabase(path)).toThrow(DatabaseFileError);
    expect(() => openDatabase(path)).toThrow(`${path} is not a SQLite database`);
    expect(readdirSync(dirname(path))).toEqual(['metronome.db']);
  });

  it('says so when part of the path is a file, not a folder', () => {
    const path = tempDbPath();
    mkdirSync(dirname(dirname(path)), { recursive: true });
    writeFileSync(dirname(path), 'a file where a folder should be');
    expect(() => openDatabase(path)).toThrow(
      new DatabaseFileError(
        `Metronome cannot create the folder of the database ${path}: part of that path is a file, not a ` +
          'folder. Point DATABASE_PATH at a file in a folder.',
      ),
    );
  });

  it('works in memory', () => {
    const conn = openDatabase(':memory:');
    try {
      expect(insertTask(conn.db, taskValues()).id).toBe(1);
    } finally {
      conn.close();
    }
  });
});
