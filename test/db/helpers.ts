import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { afterEach } from 'vitest';
import { MIGRATIONS_FOLDER, type NewTask } from '../../src/db/index.js';

/** A fresh temp folder per test, removed afterwards. Returns a path for a database file inside it. */
export function useTempDir(): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'metronome-db-'));
    dirs.push(dir);
    return join(dir, 'nested', 'metronome.db');
  };
}

export function taskValues(overrides: Partial<NewTask> = {}): NewTask {
  return {
    guildId: 'g1',
    name: 'daily',
    kind: 'reminder',
    options: { text: 'hi' },
    schedule: { kind: 'interval', seconds: 60 },
    channelId: 'c1',
    createdBy: 'u1',
    createdAt: 1_000,
    updatedAt: 1_000,
    ...overrides,
  };
}

/**
 * The database file at `path` as a Metronome from before migration `tag` left it: every earlier migration
 * applied by drizzle's migrator, from a copy of the migrations folder whose journal stops before `tag`.
 * Returns the open connection, to fill with what such a Metronome stored.
 */
export function databaseBefore(path: string, tag: string): Sqlite.Database {
  const folder = mkdtempSync(join(tmpdir(), 'metronome-migrations-'));
  try {
    cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
    const journalPath = join(folder, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] };
    const at = journal.entries.findIndex((entry) => entry.tag === tag);
    if (at < 0) throw new Error(`no migration ${tag} in ${MIGRATIONS_FOLDER}`);
    journal.entries = journal.entries.slice(0, at);
    writeFileSync(journalPath, JSON.stringify(journal));
    mkdirSync(dirname(path), { recursive: true });
    const sqlite = new Sqlite(path);
    migrate(drizzle({ client: sqlite }), { migrationsFolder: folder });
    return sqlite;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
