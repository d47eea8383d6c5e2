// SQLite failures classified into sentences, and the busy-database retry that never blocks the event loop.
// The errors are SQLite's own, produced on real files, except IOERR, which needs a failing disk.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BUSY_RETRY_BUDGET_MS, DatabaseBusyError, retryWhileBusy } from '../../src/db/busy.js';
import {
  DATABASE_FAULT_SENTENCES,
  databaseFaultOf,
  databaseFaultSentence,
  isDatabaseBusy,
} from '../../src/db/errors.js';
import { TransientError } from '../../src/loop/index.js';
import { useTempDir } from './helpers.js';

const tempDbPath = useTempDir();
const open: Sqlite.Database[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const db of open.splice(0)) if (db.open) db.close();
});

function connect(path: string, options?: Sqlite.Options): Sqlite.Database {
  const db = new Sqlite(path, options);
  open.push(db);
  return db;
}

/** A fresh WAL database file holding one table `t`. */
function newDatabaseFile(): string {
  const path = tempDbPath();
  mkdirSync(dirname(path), { recursive: true });
  const setup = connect(path);
  setup.pragma('journal_mode = WAL');
  setup.exec('CREATE TABLE t (x)');
  setup.close();
  return path;
}

/** Two connections to one WAL file; `holder` can lock it, `worker` writes with no busy wait of its own. */
function twoConnections(): { path: string; holder: Sqlite.Database; worker: Sqlite.Database } {
  const path = newDatabaseFile();
  const worker = connect(path);
  worker.pragma('busy_timeout = 0');
  return { path, holder: connect(path), worker };
}

/** What `fn` throws. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('databaseFaultOf', () => {
  it('sees a write refused under another connection’s lock as busy', () => {
    const { holder, worker } = twoConnections();
    holder.exec('BEGIN IMMEDIATE');
    const error = thrown(() => worker.exec('INSERT INTO t VALUES (1)'));
    expect(error).toMatchObject({ code: 'SQLITE_BUSY' });
    expect(databaseFaultOf(error)).toBe('busy');
    expect(isDatabaseBusy(error)).toBe(true);
    expect(databaseFaultSentence(error)).toBe(
      'The database is busy; nothing was changed. Try again in a moment.',
    );
  });

  it('sees a database that cannot grow as a full disk', () => {
    const { worker } = twoConnections();
    worker.pragma(`max_page_count = ${worker.pragma('page_count', { simple: true })}`);
    const error = thrown(() => worker.prepare('INSERT INTO t VALUES (randomblob(20000))').run());
    expect(error).toMatchObject({ code: 'SQLITE_FULL' });
    expect(databaseFaultSentence(error)).toBe(
      "The bot's disk is full; nothing was changed. Tell whoever runs the bot.",
    );
  });

  it('sees a refused write on a read-only connection as read-only', () => {
    const { path } = twoConnections();
    const error = thrown(() => connect(path, { readonly: true }).exec('INSERT INTO t VALUES (1)'));
    expect((error as { code: string }).code).toMatch(/^SQLITE_READONLY/);
    expect(databaseFaultOf(error)).toBe('readonly');
  });

  it('sees a file that is not a database as damaged', () => {
    const path = tempDbPath();
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, 'not a database, just text that is long enough to be read as a header'.repeat(100));
    const error = thrown(() => connect(path).pragma('quick_check'));
    expect(error).toMatchObject({ code: 'SQLITE_NOTADB' });
    expect(databaseFaultOf(error)).toBe('corrupt');
    expect(databaseFaultSentence(error)).toContain('restoring from a backup');
  });

  it('sees a database path that cannot be opened (a directory) as such', () => {
    const path = tempDbPath();
    mkdirSync(path, { recursive: true });
    const error = thrown(() => connect(path).pragma('user_version'));
    expect(error).toMatchObject({ code: 'SQLITE_CANTOPEN' });
    expect(databaseFaultOf(error)).toBe('cantopen');
  });

  it('reads the family of an extended code, and follows causes', () => {
    const ioerr = new Sqlite.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE');
    expect(databaseFaultOf(ioerr)).toBe('io');
    expect(databaseFaultOf(new TransientError('wrapped', { cause: ioerr }))).toBe('io');
    expect(databaseFaultOf(new Sqlite.SqliteError('locked', 'SQLITE_LOCKED_SHAREDCACHE'))).toBe('busy');
  });

  it('leaves bugs alone: constraint errors and non-SQLite errors have no fault', () => {
    const { worker } = twoConnections();
    worker.exec('CREATE TABLE u (x UNIQUE); INSERT INTO u VALUES (1)');
    const error = thrown(() => worker.exec('INSERT INTO u VALUES (1)'));
    expect(error).toMatchObject({ code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect(databaseFaultOf(error)).toBeUndefined();
    expect(databaseFaultSentence(new Error('SQLITE_BUSY in the text only'))).toBeUndefined();
  });

  it('has one sentence per fault, each saying nothing was changed', () => {
    for (const sentence of Object.values(DATABASE_FAULT_SENTENCES)) {
      expect(sentence).toMatch(/^The .*; nothing was changed\. .*\.$/);
    }
  });
});

describe('retryWhileBusy', () => {
  it('waits on timers, not on the event loop, and succeeds once the lock is released', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { holder, worker } = twoConnections();
    holder.exec('BEGIN IMMEDIATE');
    let attempts = 0;
    const insert = retryWhileBusy(() => {
      attempts++;
      return worker.prepare('INSERT INTO t VALUES (?)').run(attempts).changes;
    });
    await vi.advanceTimersByTimeAsync(500);
    expect(attempts).toBeGreaterThan(2); // it kept trying while the lock was held
    const attemptsWhileLocked = attempts;
    holder.exec('COMMIT');
    await vi.advanceTimersByTimeAsync(500);
    await expect(insert).resolves.toBe(1);
    expect(attempts).toBe(attemptsWhileLocked + 1);
    expect(worker.prepare('SELECT x FROM t').pluck().all()).toEqual([attempts]);
  });

  it('gives up within its budget with a DatabaseBusyError caused by SQLITE_BUSY', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { holder, worker } = twoConnections();
    holder.exec('BEGIN IMMEDIATE');
    const startedAt = Date.now();
    const insert = retryWhileBusy(() => worker.exec('INSERT INTO t VALUES (1)'));
    const settled = insert.catch((error: unknown) => ({ error, atMs: Date.now() - startedAt }));
    await vi.advanceTimersByTimeAsync(BUSY_RETRY_BUDGET_MS + 1_000);
    const { error, atMs } = (await settled) as { error: DatabaseBusyError; atMs: number };
    expect(error).toBeInstanceOf(DatabaseBusyError);
    expect(error.cause).toMatchObject({ code: 'SQLITE_BUSY' });
    expect(error.attempts).toBeGreaterThan(3);
    expect(atMs).toBeLessThanOrEqual(BUSY_RETRY_BUDGET_MS);
    expect(isDatabaseBusy(error)).toBe(true);
    expect(databaseFaultSentence(error)).toBe(DATABASE_FAULT_SENTENCES.busy);
  });

  it('throws any other error at once, and does not retry a retry that already gave up', async () => {
    let attempts = 0;
    const full = new Sqlite.SqliteError('database or disk is full', 'SQLITE_FULL');
    await expect(
      retryWhileBusy(() => {
        attempts++;
        throw full;
      }),
    ).rejects.toBe(full);
    const gaveUp = new DatabaseBusyError(5, 2_000, { cause: new Sqlite.SqliteError('busy', 'SQLITE_BUSY') });
    await expect(
      retryWhileBusy(() => {
        attempts++;
        throw gaveUp;
      }),
    ).rejects.toBe(gaveUp);
    expect(attempts).toBe(2);
  });

  it('passes an async operation’s result through', async () => {
    await expect(retryWhileBusy(async () => 'done')).resolves.toBe('done');
  });
});
