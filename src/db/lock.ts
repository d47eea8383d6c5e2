// One Metronome per shard of a database: two processes running one shard would both run its servers' tasks
// (and post twice). A bot in one process holds shard 0 of 1, its whole database.
//
// Each shard's lock is a file beside the database: `<database>.lock` for shard 0 (the name a single-process
// bot has always used), `<database>.shard-<id>.lock` for the others. Every process also holds a read lock
// on `<database>.shards.lock`, which records the shard count: SQLite commits a change to a file only when
// nobody reads it, so the count can change only once every process of the old count has stopped, and a
// starter with another count is refused (with 2 shards and 4, shard 1 of 2 and shard 1 of 4 hold different
// servers, and a server could run in two processes).
//
// A shard's lock is a tiny SQLite database of its own (not the bot's database, which must stay
// open to readers such as `npm run backup`). The owner holds a write transaction (`BEGIN IMMEDIATE`, SQLite's
// RESERVED lock) on it for as long as it runs. That lock is a POSIX advisory lock, which the kernel drops
// when the process dies, however it dies: a crash, SIGKILL or power loss leaves at most an unlocked file,
// and an unlocked file blocks nobody. So nothing here asks whether some process with a stored pid exists
// (pids are reused at boot, often by the bot's own parent, or are 1 in every container).
//
// A RESERVED lock still lets others read, so a refused starter reads the owner's pid and start time from
// the file; the owner commits them before taking its long-held lock.
//
// The file is never deleted: unlinking it while another starter has it open would let that starter lock the
// orphaned file while a third creates a new one, and both would run.
//
// The lock is keyed on the real file: symbolic links are resolved, and a database file with a second name
// (a hard link) is refused, since a bot started through that name would look for another lock file (and
// SQLite, which keeps its -wal and -shm files beside each name, could lose data after a crash).
//
// POSIX locks belong to the process, and closing *any* descriptor of the file drops them all. SQLite guards
// its own descriptors, so this process must never open the lock file by other means while it holds it.
import { randomUUID } from 'node:crypto';
import { closeSync, constants, openSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import Sqlite from 'better-sqlite3';
import {
  DatabaseFileError,
  describeDatabaseFileError,
  isInMemory,
  prepareDatabaseFile,
} from './connection.js';

/** The shards one process locks: `ids` of `count` (the same shape as the runtime's ShardScope). */
export interface LockScope {
  count: number;
  ids: readonly number[];
}

/** A bot in one process: every task of the database. */
export const WHOLE_DATABASE: LockScope = { count: 1, ids: [0] };

/**
 * Another process (or another bot in this one) holds the lock; `pid` is that process, if it could be read.
 * `shard` is the shard refused, when the bot runs more than one.
 */
export class DatabaseLockedError extends Error {
  override readonly name = 'DatabaseLockedError';
  constructor(
    readonly databasePath: string,
    readonly pid: number | undefined,
    readonly shard?: { id: number; count: number },
  ) {
    const what = shard === undefined ? 'the database' : `shard ${shard.id} of ${shard.count} of the database`;
    super(`${what} ${databasePath} is locked by ${pid === undefined ? 'another process' : `process ${pid}`}`);
  }
}

/** Another process runs the database with another shard count (`running`, when it could be read). */
export class ShardCountMismatchError extends Error {
  override readonly name = 'ShardCountMismatchError';
  constructor(
    readonly databasePath: string,
    readonly wanted: number,
    readonly running: { count: number; pid: number } | undefined,
  ) {
    super(
      `the database ${databasePath} is run with ${running === undefined ? 'another shard count' : `${running.count} shards by process ${running.pid}`}, not ${wanted}`,
    );
  }
}

export interface DatabaseLock {
  /** The first shard's lock file (`<database>.lock` for shard 0). */
  readonly path: string;
  /** Gives the locks up (the files stay, unlocked); safe to call twice. */
  release(): void;
}

/** The owner recorded in a lock file. */
interface LockOwner {
  pid: number;
  /** When it took the lock (ISO 8601). */
  startedAt: string;
}

/**
 * The lock files this process holds, with their connections. Holding the connections here matters: a
 * better-sqlite3 connection nobody refers to is closed when garbage-collected, which would quietly let the
 * lock go. (SQLite alone already refuses a second connection in this process; the map also lets a second
 * bot here be refused without touching the file, see the note on descriptors above.)
 */
const heldHere = new Map<string, Sqlite.Database>();
/** The read locks on shard-count files this process holds (several bots here may share a count). */
const countsHeld = new Set<Sqlite.Database>();

/**
 * The database file behind `databasePath`, created empty if missing (an empty file is an empty SQLite
 * database) so that links to it can be resolved. Refuses a file with more than one name.
 */
function realDatabaseFile(databasePath: string): string {
  const given = resolve(databasePath);
  prepareDatabaseFile(given);
  // O_RDONLY: an existing read-only file must reach SQLite, which says plainly that it cannot write it.
  closeSync(openSync(given, constants.O_RDONLY | constants.O_CREAT));
  const real = realpathSync(given);
  const { nlink } = statSync(real);
  if (nlink > 1) {
    throw new DatabaseFileError(
      `The database ${real} has ${nlink} names (hard links), so a second Metronome started through another ` +
        'name would not see this one, and SQLite could lose data after a crash. Remove the other names (find ' +
        `them with: find / -samefile ${real}), then start again.`,
    );
  }
  return real;
}

/** How long a refused starter waits to read the owner, and the owner to commit past such readers. */
const READ_WAIT_MS = 500;
const COMMIT_WAIT_MS = 2_000;
/** Rounds of record-then-lock before giving up on a starter that keeps racing us (never seen in practice). */
const ROUNDS = 5;

/**
 * Takes the lock for the database at `databasePath`, or throws DatabaseLockedError when another process,
 * or another bot in this one, holds it. Released by `release()` or, whatever happens, when this process ends.
 */
export function acquireDatabaseLock(databasePath: string): DatabaseLock {
  return acquireShardLocks(databasePath, WHOLE_DATABASE);
}

/** The lock file of one shard: shard 0 keeps the single-process name. */
export function shardLockPath(database: string, id: number): string {
  return id === 0 ? `${database}.lock` : `${database}.shard-${id}.lock`;
}

/**
 * Takes the locks of the scope's shards of the database at `databasePath`, first checking that every other
 * process on it runs the same shard count. Throws ShardCountMismatchError for another count, and
 * DatabaseLockedError when another process (or another bot in this one) holds one of the shards; then it
 * holds nothing. Released by `release()` or, whatever happens, when this process ends.
 */
export function acquireShardLocks(databasePath: string, scope: LockScope): DatabaseLock {
  // An in-memory database belongs to its connection, so it needs no lock.
  if (isInMemory(databasePath)) return { path: '', release: () => {} };
  const database = realDatabaseFile(databasePath);
  const taken: Sqlite.Database[] = [];
  const release = () => {
    for (const sqlite of taken.splice(0).reverse()) {
      if (!sqlite.open) continue;
      sqlite.close(); // ends the held transaction; the kernel lock goes with the last descriptor
      countsHeld.delete(sqlite);
      for (const [path, held] of heldHere) if (held === sqlite) heldHere.delete(path);
    }
  };
  try {
    const count = holdShardCount(database, scope.count);
    countsHeld.add(count);
    taken.push(count);
    const shard = (id: number) => (scope.count === 1 ? undefined : { id, count: scope.count });
    for (const id of [...scope.ids].sort((a, b) => a - b)) {
      const path = shardLockPath(database, id);
      taken.push(lockShard(path, database, shard(id)));
    }
  } catch (error) {
    release();
    throw error;
  }
  return { path: shardLockPath(database, Math.min(...scope.ids)), release };
}

/**
 * Holds a read lock on `<database>.shards.lock` once it records `count`, recording it first if it records
 * another (or none). Recording commits, which SQLite refuses while anyone reads the file: while a process of
 * another count runs, this one is refused instead.
 */
function holdShardCount(database: string, count: number): Sqlite.Database {
  const sqlite = openLockFile(`${database}.shards.lock`);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      sqlite.pragma(`busy_timeout = ${READ_WAIT_MS}`);
      if (readsCount(sqlite, count)) return sqlite;
      sqlite.pragma(`busy_timeout = ${COMMIT_WAIT_MS}`);
      // Busy only while another starter records its count: read again next round.
      if (!tryBeginWrite(sqlite)) continue;
      sqlite.exec(
        'CREATE TABLE IF NOT EXISTS shard_count (id INTEGER PRIMARY KEY CHECK (id = 1), ' +
          'count INTEGER NOT NULL, pid INTEGER NOT NULL, started_at TEXT NOT NULL)',
      );
      sqlite
        .prepare('INSERT OR REPLACE INTO shard_count (id, count, pid, started_at) VALUES (1, ?, ?, ?)')
        .run(count, process.pid, new Date().toISOString());
      // Long enough for starters that only read the count to let go; holders of another count never do.
      sqlite.pragma(`busy_timeout = ${READ_WAIT_MS}`);
      if (commits(sqlite)) continue;
      // Held by readers: processes of another count, or of ours that recorded it first (then read it again).
      const running = readCount(sqlite);
      if (running === undefined || running.count !== count) {
        throw new ShardCountMismatchError(database, count, running);
      }
    }
    throw new ShardCountMismatchError(database, count, readCount(sqlite));
  } catch (error) {
    sqlite.close();
    throw error;
  }
}

/**
 * Whether the file records `count`, read in a transaction that then stays open: its shared lock is what
 * keeps the count from changing. Otherwise (another count, none, or busy) the transaction is ended.
 */
function readsCount(sqlite: Sqlite.Database, count: number): boolean {
  try {
    sqlite.exec('BEGIN'); // deferred: the first read takes the shared lock
    if (readCount(sqlite)?.count === count) return true;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'SQLITE_BUSY') throw error;
  }
  if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
  return false;
}

/** Commits, or rolls back and says so when readers keep the file busy. */
function commits(sqlite: Sqlite.Database): boolean {
  try {
    sqlite.exec('COMMIT');
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'SQLITE_BUSY') throw error;
    sqlite.exec('ROLLBACK');
    return false;
  }
}

/** The recorded shard count and who recorded it, or undefined if there is none (or it cannot be read now). */
function readCount(sqlite: Sqlite.Database): { count: number; pid: number } | undefined {
  try {
    const table = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE name = 'shard_count'").get();
    if (table === undefined) return undefined;
    const row = sqlite.prepare('SELECT count, pid FROM shard_count WHERE id = 1').get() as
      | { count: unknown; pid: unknown }
      | undefined;
    if (row === undefined || typeof row.count !== 'number' || typeof row.pid !== 'number') return undefined;
    return { count: row.count, pid: row.pid };
  } catch (error) {
    // Inside a transaction a failed read must not pass for "no count": the caller would overwrite it.
    if (sqlite.inTransaction) throw error;
    return undefined;
  }
}

/** Takes one shard's write lock, or throws DatabaseLockedError naming its holder. */
function lockShard(
  path: string,
  database: string,
  shard: { id: number; count: number } | undefined,
): Sqlite.Database {
  if (heldHere.has(path)) throw new DatabaseLockedError(database, process.pid, shard);
  const sqlite = openLockFile(path);
  try {
    // Each round: take the write lock; if the file already names us, hold it. Otherwise record ourselves
    // and commit (which lets the lock go for a moment, so readers can see who we are), then take it again.
    // Another starter can slip in between the commit and the next take; it then records itself, and
    // whoever holds the lock when its own record is in the file wins.
    const token = randomUUID();
    for (let round = 0; round < ROUNDS; round++) {
      if (!tryBeginWrite(sqlite)) throw new DatabaseLockedError(database, readOwner(sqlite)?.pid, shard);
      sqlite.exec(
        'CREATE TABLE IF NOT EXISTS owner (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, ' +
          'started_at TEXT NOT NULL, token TEXT NOT NULL)',
      );
      const recorded = sqlite.prepare('SELECT token FROM owner WHERE id = 1').get() as
        | { token: string }
        | undefined;
      if (recorded?.token === token) {
        heldHere.set(path, sqlite);
        return sqlite;
      }
      sqlite
        .prepare('INSERT OR REPLACE INTO owner (id, pid, started_at, token) VALUES (1, ?, ?, ?)')
        .run(process.pid, new Date().toISOString(), token);
      sqlite.pragma(`busy_timeout = ${COMMIT_WAIT_MS}`);
      sqlite.exec('COMMIT');
      sqlite.pragma('busy_timeout = 0');
    }
    throw new DatabaseLockedError(database, readOwner(sqlite)?.pid, shard);
  } catch (error) {
    sqlite.close(); // rolls back a transaction left open, letting the lock go
    throw error;
  }
}

function openLockFile(path: string): Sqlite.Database {
  const sqlite = new Sqlite(path, { timeout: 0 });
  try {
    sqlite.prepare('SELECT count(*) FROM sqlite_master').get(); // reads the header: is this a database?
    return sqlite;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'SQLITE_BUSY') return sqlite; // an owner mid-commit: locked
    sqlite.close();
    // Not ours to take over, and not the database: the sentence must name this file, not suggest a restore.
    if (code === 'SQLITE_NOTADB') {
      throw new DatabaseFileError(
        `${path} is not a Metronome lock file (Metronome keeps a small SQLite database there). Move it ` +
          'elsewhere, then start Metronome again.',
        { cause: error },
      );
    }
    throw describeDatabaseFileError(error, path) ?? error;
  }
}

function tryBeginWrite(sqlite: Sqlite.Database): boolean {
  try {
    sqlite.exec('BEGIN IMMEDIATE');
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'SQLITE_BUSY') return false;
    throw error;
  }
}

/** The recorded owner, or undefined if there is none yet or it cannot be read just now. */
function readOwner(sqlite: Sqlite.Database): LockOwner | undefined {
  try {
    sqlite.pragma(`busy_timeout = ${READ_WAIT_MS}`);
    const row = sqlite.prepare('SELECT pid, started_at FROM owner WHERE id = 1').get() as
      | { pid: unknown; started_at: unknown }
      | undefined;
    if (row === undefined || typeof row.pid !== 'number' || !Number.isSafeInteger(row.pid) || row.pid <= 0) {
      return undefined;
    }
    return { pid: row.pid, startedAt: String(row.started_at) };
  } catch {
    return undefined;
  }
}
