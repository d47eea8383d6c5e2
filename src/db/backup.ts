// An online backup of the database: safe while the bot runs (SQLite's backup API copies a consistent
// snapshot page by page; copying the file itself could catch a half-written WAL).
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Sqlite from 'better-sqlite3';

export interface BackupResult {
  destination: string;
  pages: number;
}

/** Copies the database at `source` to `destination` (which must not exist) and checks the copy. */
export async function backupDatabase(source: string, destination: string): Promise<BackupResult> {
  const from = resolve(source);
  const to = resolve(destination);
  if (!existsSync(from)) throw new Error(`There is no database at ${from}.`);
  if (existsSync(to)) throw new Error(`${to} already exists; pick a new file name for the backup.`);
  mkdirSync(dirname(to), { recursive: true });
  // Read-only and without the instance lock: a backup runs beside the bot, not instead of it.
  const database = new Sqlite(from, { readonly: true, fileMustExist: true });
  try {
    database.pragma('busy_timeout = 5000');
    const { totalPages } = await database.backup(to);
    const copy = new Sqlite(to);
    try {
      // One self-contained file: the copy inherits WAL mode, which would leave -wal/-shm files beside it.
      copy.pragma('journal_mode = DELETE');
      const check = copy.pragma('integrity_check', { simple: true });
      if (check !== 'ok') throw new Error(`The backup at ${to} failed its integrity check: ${String(check)}`);
    } finally {
      copy.close();
    }
    return { destination: to, pages: totalPages };
  } finally {
    database.close();
  }
}
