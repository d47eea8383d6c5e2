import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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

/**
 * better-sqlite3 is synchronous, so a wait for another connection's lock blocks the whole event loop. Keep it
 * short: callers that must get through a busy database retry asynchronously.
 */
export const BUSY_TIMEOUT_MS = 100;

/** Where the README explains how to put a backup back. */
const RESTORE_STEPS =
  'stop the bot, put the latest copy made by `npm run backup` in its place and delete the -wal and -shm ' +
  'files beside it (README, "Operating it")';

/**
 * The database cannot be used as it is, for a reason only its owner can fix. The message is one plain
 * sentence naming the file and what to do, meant to be printed as is.
 */
export class DatabaseFileError extends Error {
  override readonly name = 'DatabaseFileError';
}

/** Whether `path` names an in-memory database (no file: nothing to create, lock or back up). */
export function isInMemory(path: string): boolean {
  return path === ':memory:' || path === '' || path.startsWith('file::memory:');
}

/**
 * Opens (creating if needed) the SQLite database at `path`, checks that it is a sound Metronome database,
 * tunes it for a long-running bot and brings its schema up to date. Throws a DatabaseFileError when the file
 * is not usable: not a database, damaged, another program's, written by a newer Metronome, or not writable.
 */
export function openDatabase(path: string): DatabaseConnection {
  const file = isInMemory(path) ? path : resolve(path);
  let sqlite: Sqlite.Database | undefined;
  try {
    if (!isInMemory(path)) prepareDatabaseFile(file);
    sqlite = new Sqlite(path);
    sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Everything that reads before anything writes: a file that is not ours must come out unchanged.
    const tables = sqlite
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .pluck()
      .all() as string[];
    checkIntegrity(sqlite, file);
    if (tables.length > 0 && !tables.includes(MIGRATIONS_TABLE)) {
      const shown = tables.slice(0, 3).join(', ') + (tables.length > 3 ? ', …' : '');
      throw new DatabaseFileError(
        `${file} is another program's SQLite database (tables ${shown}), not Metronome's. Point ` +
          "DATABASE_PATH at a new file or at Metronome's own database.",
      );
    }
    refuseNewerSchema(sqlite, file, tables.includes(MIGRATIONS_TABLE));
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('synchronous = NORMAL');
    const db = drizzle({ client: sqlite, schema });
    migrate(db, { migrationsFolder: MIGRATIONS_FOLDER, migrationsTable: MIGRATIONS_TABLE });
    const opened = sqlite;
    return { sqlite: opened, db, close: () => opened.close() };
  } catch (error) {
    sqlite?.close();
    if (error instanceof DatabaseFileError || isInMemory(path)) throw error;
    throw describeDatabaseFileError(error, file) ?? error;
  }
}

/**
 * The plain sentence for a failure to open, lock or write the database file at `file`, or undefined when the
 * error is not about the file (a bug: keep its stack).
 */
export function describeDatabaseFileError(error: unknown, file: string): DatabaseFileError | undefined {
  if (error instanceof DatabaseFileError) return error;
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  const say = (sentence: string) => new DatabaseFileError(sentence, { cause: error });
  if (code === 'SQLITE_NOTADB') {
    return say(
      `${file} is not a SQLite database (or it is encrypted, or damaged past reading). Point DATABASE_PATH ` +
        `at Metronome's database, or restore a backup: ${RESTORE_STEPS}.`,
    );
  }
  if (code.startsWith('SQLITE_CORRUPT')) return damaged(file, 'SQLite reports it malformed', error);
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') {
    return say(`The disk holding ${file} is full. Free some space, then start Metronome again.`);
  }
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_LOCKED')) {
    return say(
      `${file} is locked by another program that is writing to it. Close that program, then start ` +
        'Metronome again.',
    );
  }
  if (
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_CANTOPEN') ||
    code === 'SQLITE_PERM' ||
    code === 'EACCES' ||
    code === 'EPERM' ||
    code === 'EROFS'
  ) {
    return say(unwritableProblem(file) ?? unwritableSentence(file, `${file} cannot be opened for writing`));
  }
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    return say(
      `Metronome cannot create the folder of the database ${file}: part of that path is a file, not a ` +
        'folder. Point DATABASE_PATH at a file in a folder.',
    );
  }
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') {
    return say(
      `Reading or writing ${file} failed with an I/O error (${code}): check the disk and the file system ` +
        '(dmesg), then start Metronome again.',
    );
  }
  return undefined;
}

/** Refuses a folder, and creates the folders leading to the file. */
export function prepareDatabaseFile(file: string): void {
  const stats = statSync(file, { throwIfNoEntry: false });
  if (stats?.isDirectory()) {
    throw new DatabaseFileError(
      `DATABASE_PATH names a folder, ${file}, not a database file. Name a file inside it instead, such as ` +
        `${join(file, 'metronome.db')}.`,
    );
  }
  mkdirSync(dirname(file), { recursive: true });
  // SQLite opens a file it cannot write read-only without a word, and in WAL mode even "writes" to it.
  const problem = unwritableProblem(file);
  if (problem !== undefined) throw new DatabaseFileError(problem);
}

/**
 * Says which of the file and its folder this process cannot write, and whether the file system is read-only;
 * undefined when both are writable (or the file does not exist yet).
 */
function unwritableProblem(file: string): string | undefined {
  const problem = (path: string): string | undefined => {
    try {
      accessSync(path, constants.W_OK);
      return undefined;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'ENOENT') return undefined;
      return code === 'EROFS' ? 'is on a read-only file system' : 'is not writable by this user';
    }
  };
  const folder = dirname(file);
  const fileProblem = problem(file);
  const folderProblem = fileProblem === undefined ? problem(folder) : undefined;
  if (fileProblem === undefined && folderProblem === undefined) return undefined;
  const what =
    fileProblem !== undefined
      ? `${file} ${fileProblem}`
      : `its folder ${folder} ${folderProblem} (SQLite keeps its -wal, -shm and .lock files there)`;
  return unwritableSentence(file, what);
}

function unwritableSentence(file: string, what: string): string {
  const uid = typeof process.getuid === 'function' ? ` (uid ${process.getuid()})` : '';
  return (
    `Metronome cannot write to the database ${file}: ${what}. Make the file and its folder writable by ` +
    `the user running the bot${uid}, or point DATABASE_PATH at a writable place.`
  );
}

function damaged(file: string, finding: string, cause?: unknown): DatabaseFileError {
  return new DatabaseFileError(
    `The database ${file} is damaged (${finding}), so Metronome will not start on it: ${RESTORE_STEPS}.`,
    { cause },
  );
}

/**
 * PRAGMA quick_check: the page and b-tree checks of integrity_check without the index-content ones, so it is
 * cheap enough for every start-up (see README, Benchmarks). Starting on a damaged file would spread the damage.
 */
function checkIntegrity(sqlite: Sqlite.Database, file: string): void {
  let findings: string[];
  try {
    const rows = sqlite.pragma('quick_check(3)') as { quick_check: string }[];
    // Findings can span lines; the owner gets one.
    findings = rows.map((row) => row.quick_check.replace(/\s+/g, ' ').trim());
  } catch (error) {
    if (String((error as { code?: unknown }).code ?? '').startsWith('SQLITE_CORRUPT')) {
      throw damaged(file, 'SQLite reports it malformed', error);
    }
    throw error;
  }
  if (findings.length === 1 && findings[0] === 'ok') return;
  throw damaged(file, `quick_check: ${findings.join('; ')}`);
}

/** Refuses a database that a newer Metronome has migrated past this build's schema. */
function refuseNewerSchema(sqlite: Sqlite.Database, file: string, hasMigrations: boolean): void {
  if (!hasMigrations) return;
  const known = new Set(readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).map((m) => m.hash));
  const applied = sqlite.prepare(`SELECT hash FROM ${MIGRATIONS_TABLE}`).pluck().all() as string[];
  const unknown = applied.filter((hash) => !known.has(hash));
  if (unknown.length > 0) {
    throw new DatabaseFileError(
      `The database ${file} has ${unknown.length} migration(s) this version of Metronome does not know: ` +
        'it was written by a newer version. Upgrade Metronome, or point DATABASE_PATH at another file.',
    );
  }
}
