// One Metronome per database: two processes on one file would both run every task (and post twice). The
// lock is a file beside the database holding the owner's pid, created exclusively ('wx'); a lock left by a
// process that no longer exists (killed, crashed) is taken over. SQLite's own locks cannot serve: WAL lets
// both processes open the file happily.
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Another live process holds the lock; `pid` is that process. */
export class DatabaseLockedError extends Error {
  override readonly name = 'DatabaseLockedError';
  constructor(
    readonly databasePath: string,
    readonly pid: number,
  ) {
    super(`the database ${databasePath} is locked by process ${pid}`);
  }
}

export interface DatabaseLock {
  /** The lock file (`<database>.lock`). */
  readonly path: string;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): void;
}

/** Lock files this process holds, so a second bot in the same process is refused like another process. */
const heldHere = new Set<string>();

export function lockPathFor(databasePath: string): string {
  return `${resolve(databasePath)}.lock`;
}

/** As connection.ts opens it: an in-memory database belongs to its connection, so it needs no lock. */
function isInMemory(path: string): boolean {
  return path === ':memory:' || path === '' || path.startsWith('file::memory:');
}

/**
 * Takes the lock for the database at `databasePath`, or throws DatabaseLockedError when a live process
 * holds it. Released by `release()` or, failing that, when this process exits.
 */
export function acquireDatabaseLock(databasePath: string): DatabaseLock {
  if (isInMemory(databasePath)) return { path: '', release: () => {} };
  const path = lockPathFor(databasePath);
  mkdirSync(dirname(path), { recursive: true });
  // Two tries: the second follows the removal of a stale lock; losing that race to another starter means
  // the lock is now live, and the second try reports it.
  for (let attempt = 0; ; attempt++) {
    if (tryCreate(path)) return hold(path);
    const owner = ownerOf(path);
    if (owner !== undefined && isLive(owner, path))
      throw new DatabaseLockedError(resolve(databasePath), owner);
    if (attempt > 0) throw new DatabaseLockedError(resolve(databasePath), owner ?? 0);
    removeIfOwnedBy(path, owner);
  }
}

/**
 * Creates the lock file with our pid already in it: written to a temporary file, then hard-linked into
 * place, which fails if the lock exists. (Opening with 'wx' and then writing would let another starter
 * read an empty lock in between and take it for a garbled, stale one.)
 */
function tryCreate(path: string): boolean {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${process.pid}\n`);
  try {
    linkSync(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temporary);
  }
}

function hold(path: string): DatabaseLock {
  heldHere.add(path);
  const release = () => {
    process.off('exit', release);
    if (!heldHere.delete(path)) return;
    removeIfOwnedBy(path, process.pid);
  };
  process.on('exit', release);
  return { path, release };
}

/** The pid written in the lock file; undefined if it is gone or garbled (edited by hand, say). */
function ownerOf(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isLive(pid: number, path: string): boolean {
  // Our own pid: live only if this process took the lock. Otherwise it is left by an earlier process that
  // had our pid (in a container the bot is often pid 1 on every start).
  if (pid === process.pid) return heldHere.has(path);
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the lock unless someone else has taken it since we read it (the window is a read and an unlink). */
function removeIfOwnedBy(path: string, pid: number | undefined): void {
  if (ownerOf(path) !== pid) return;
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
