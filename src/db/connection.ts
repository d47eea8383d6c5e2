import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Sqlite.Database };

export interface DatabaseConnection {
  /** The raw better-sqlite3 handle (pragmas, integrity checks, backups). */
  sqlite: Sqlite.Database;
  /** The typed drizzle handle every store function takes. */
  db: Db;
  close(): void;
}

// Resolved from this file, not the working directory, so the bot starts from anywhere.
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../migrations', import.meta.url));
const MIGRATIONS_TABLE = '__drizzle_migrations';

/** Whether `path` names an in-memory database (no file: nothing to create, lock or back up). */
export function isInMemory(path: string): boolean {
  return path === ':memory:' || path === '' || path.startsWith('file::memory:');
}

/**
 * Opens (creating if needed) the SQLite database at `path`, tunes it for a long-running bot and brings its
 * schema up to date. Refuses a database that a newer Metronome has migrated past this build's schema.
 */
export function openDatabase(path: string): DatabaseConnection {
  if (!isInMemory(path)) mkdirSync(dirname(resolve(path)), { recursive: true });
  const sqlite = new Sqlite(path);
  try {
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('synchronous = NORMAL');
    const db = drizzle({ client: sqlite, schema });
    applyMigrations(sqlite, db, path);
    return { sqlite, db, close: () => sqlite.close() };
  } catch (error) {
    sqlite.close();
    throw error;
  }
}

function applyMigrations(sqlite: Sqlite.Database, db: Db, path: string): void {
  const known = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
  const tableExists = sqlite
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
    .get(MIGRATIONS_TABLE);
  if (tableExists) {
    const knownHashes = new Set(known.map((m) => m.hash));
    const applied = sqlite.prepare(`SELECT hash FROM ${MIGRATIONS_TABLE}`).all() as { hash: string }[];
    const unknown = applied.filter((row) => !knownHashes.has(row.hash));
    if (unknown.length > 0) {
      throw new Error(
        `The database at ${path} has ${unknown.length} migration(s) this version of Metronome does not know: ` +
          'it was written by a newer version. Upgrade Metronome, or point DATABASE_PATH at another file.',
      );
    }
  }
  migrate(db, { migrationsFolder: MIGRATIONS_FOLDER, migrationsTable: MIGRATIONS_TABLE });
}
