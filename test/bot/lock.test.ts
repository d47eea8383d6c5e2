// One Metronome per database: a second bot on the same file is refused in one sentence, and nothing a dead
// owner leaves behind (whatever pid it names: reused, ours, pid 1) blocks the next start.
//
// Never read the lock file with node:fs in this process while it holds the lock: closing any descriptor of
// a file drops all of the process's POSIX locks on it. recordedOwner reads it through SQLite, which is safe.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bot, StartupError, startBot } from '../../src/bot.js';
import { DatabaseFileError } from '../../src/db/index.js';
import { acquireDatabaseLock, DatabaseLockedError } from '../../src/db/lock.js';
import { createLogger } from '../../src/log.js';
import { startTestBot, type TestBot } from '../commands/helpers.js';

const HOLDER = fileURLToPath(new URL('./fixtures/lock-holder.ts', import.meta.url));

let t: TestBot | undefined;
const others: Bot[] = [];
const holders: Holder[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const bot of others.splice(0)) await bot.stop();
  await t?.close();
  t = undefined;
  await Promise.all(holders.splice(0).map((holder) => holder.kill('SIGKILL')));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDatabase(): string {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-lock-'));
  dirs.push(dir);
  return join(dir, 'bot.db');
}

/** Another bot on t's emulator and database. */
function secondBot(test: TestBot): Promise<Bot> {
  return startBot({
    config: {
      discordToken: test.emulator.token,
      databasePath: test.databasePath,
      handlersDir: undefined,
      devGuildId: undefined,
      discordApiBase: test.emulator.apiBase,
    },
    log: createLogger({ level: 'silent' }),
    clientOptions: { testing: true, restTimeoutMs: 2_000, restRetries: 1 },
  });
}

const refusal = (databasePath: string, pid: number) =>
  `Another Metronome is already running on ${databasePath} (pid ${pid}). Stop it first, ` +
  'or point DATABASE_PATH at another file.';

interface HolderEvent {
  event: 'ready' | 'acquired' | 'refused' | 'failed' | 'released' | 'forgot';
  pid: number;
  owner?: number | null;
  message?: string;
}

/** A separate process (test/bot/fixtures/lock-holder.ts) that takes and releases the lock on command. */
interface Holder {
  pid: number;
  acquire(): Promise<HolderEvent>;
  release(): Promise<HolderEvent>;
  forget(): Promise<HolderEvent>;
  /** Kills it and waits until it is gone. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

async function startHolder(databasePath: string): Promise<Holder> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', HOLDER, databasePath],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending: HolderEvent[] = [];
  const waiting: ((event: HolderEvent) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const event = JSON.parse(line) as HolderEvent;
    const waiter = waiting.shift();
    if (waiter) waiter(event);
    else pending.push(event);
  });
  const next = () =>
    new Promise<HolderEvent>((resolve, reject) => {
      const event = pending.shift();
      if (event) return resolve(event);
      waiting.push(resolve);
      exited.then(() => reject(new Error('the lock holder exited')));
    });
  const send = (command: string) => {
    child.stdin!.write(`${command}\n`);
    return next();
  };
  const holder: Holder = {
    pid: child.pid!,
    acquire: () => send('acquire'),
    release: () => send('release'),
    forget: () => send('forget'),
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  holders.push(holder);
  expect(await next()).toEqual({ event: 'ready', pid: child.pid });
  return holder;
}

/** Where the lock of `databasePath` lives: beside the real file, links resolved (stat only: no descriptor). */
function lockFileOf(databasePath: string): string {
  return `${existsSync(databasePath) ? realpathSync(databasePath) : databasePath}.lock`;
}

/** The owner a lock file records, read as a refused starter reads it: through SQLite, never node:fs. */
function recordedOwner(databasePath: string): { pid: number; startedAt: string } | undefined {
  const path = lockFileOf(databasePath);
  if (!existsSync(path)) return undefined;
  const sqlite = new Sqlite(path, { readonly: true, fileMustExist: true, timeout: 500 });
  try {
    const row = sqlite.prepare('SELECT pid, started_at FROM owner WHERE id = 1').get() as
      | { pid: number; started_at: string }
      | undefined;
    return row && { pid: row.pid, startedAt: row.started_at };
  } finally {
    sqlite.close();
  }
}

/** What a dead owner leaves behind: a lock file recording `pid`, with no one holding its lock. */
function leaveLockFile(databasePath: string, pid: number): void {
  const sqlite = new Sqlite(lockFileOf(databasePath));
  sqlite.exec(
    'CREATE TABLE IF NOT EXISTS owner (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, ' +
      'started_at TEXT NOT NULL, token TEXT NOT NULL)',
  );
  sqlite
    .prepare('INSERT OR REPLACE INTO owner (id, pid, started_at, token) VALUES (1, ?, ?, ?)')
    .run(pid, '2024-01-01T00:00:00.000Z', 'left behind');
  sqlite.close();
}

/** A process that exists and is not Metronome: the test runner that forked this worker. */
function liveUnrelatedPid(): number {
  const pid = process.ppid;
  process.kill(pid, 0); // throws if it is not there
  return pid;
}

describe('single-instance lock', () => {
  it('refuses a second bot in the same process, and lets it start once the first has stopped', async () => {
    t = await startTestBot();
    expect(recordedOwner(t.databasePath)?.pid).toBe(process.pid);

    const refused = await secondBot(t).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(StartupError);
    expect((refused as Error).message).toBe(refusal(t.databasePath, process.pid));
    // The refused start touched nothing: the first bot still holds the lock and still answers.
    expect(() => acquireDatabaseLock(t!.databasePath)).toThrow(DatabaseLockedError);
    expect(await t.run('list')).toContain('no tasks yet');

    await t.bot.stop();
    // The file stays (deleting it would open a race between starters), but it no longer blocks anyone.
    expect(existsSync(lockFileOf(t.databasePath))).toBe(true);
    const second = await secondBot(t);
    others.push(second);
    expect(recordedOwner(t.databasePath)?.pid).toBe(process.pid);
    await second.stop(); // stopping twice (here and after the test) is harmless
    const third = await secondBot(t);
    others.push(third);
  });

  it('refuses to start while another process holds the lock, and starts the moment it is SIGKILLed', async () => {
    t = await startTestBot();
    await t.bot.stop();
    const holder = await startHolder(t.databasePath);
    expect(await holder.acquire()).toMatchObject({ event: 'acquired' });

    await expect(secondBot(t)).rejects.toThrow(refusal(t.databasePath, holder.pid));

    // A crash: no release, no exit handler; the kernel drops the lock with the process.
    await holder.kill('SIGKILL');
    expect(recordedOwner(t.databasePath)?.pid).toBe(holder.pid); // its record is still there...
    const bot = await secondBot(t); // ...and blocks nothing
    others.push(bot);
    expect(recordedOwner(t.databasePath)?.pid).toBe(process.pid);
  }, 20_000);

  it('starts over a lock file left behind that names a live, unrelated process', async () => {
    t = await startTestBot();
    await t.bot.stop();
    // The review's case: after a reboot the recorded pid belongs to someone else (npm, tsx, pid 1, ...).
    leaveLockFile(t.databasePath, liveUnrelatedPid());
    const bot = await secondBot(t);
    others.push(bot);
    expect(recordedOwner(t.databasePath)?.pid).toBe(process.pid);
  });
});

describe('acquireDatabaseLock', () => {
  it('refuses another process with the owner named, until the owner releases', async () => {
    const database = tempDatabase();
    const [first, second] = await Promise.all([startHolder(database), startHolder(database)]);
    expect(await first.acquire()).toEqual({ event: 'acquired', pid: first.pid });
    expect(await second.acquire()).toEqual({
      event: 'refused',
      pid: second.pid,
      owner: first.pid,
      message: `the database ${database} is locked by process ${first.pid}`,
    });
    let error: unknown;
    try {
      acquireDatabaseLock(database);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(DatabaseLockedError);
    expect((error as DatabaseLockedError).pid).toBe(first.pid);
    expect(recordedOwner(database)).toEqual({ pid: first.pid, startedAt: expect.any(String) });

    expect(await first.release()).toMatchObject({ event: 'released' });
    expect(await second.acquire()).toEqual({ event: 'acquired', pid: second.pid });
    expect(recordedOwner(database)?.pid).toBe(second.pid);
  }, 20_000);

  it('keeps the lock when the caller drops its handle without releasing (garbage collection)', async () => {
    const database = tempDatabase();
    const holder = await startHolder(database);
    expect(await holder.acquire()).toMatchObject({ event: 'acquired' });
    expect(await holder.forget()).toMatchObject({ event: 'forgot' });
    expect(() => acquireDatabaseLock(database)).toThrow(DatabaseLockedError);
  }, 20_000);

  it('gives the lock to exactly one of several processes starting at once', async () => {
    const database = tempDatabase();
    const racers = await Promise.all(Array.from({ length: 4 }, () => startHolder(database)));
    const results = await Promise.all(racers.map((racer) => racer.acquire()));
    const winners = results.filter((result) => result.event === 'acquired');
    expect(winners).toHaveLength(1);
    expect(results.filter((result) => result.event === 'refused')).toHaveLength(3);
    expect(recordedOwner(database)?.pid).toBe(winners[0]!.pid);
  }, 20_000);

  it('is not blocked by whatever pid a dead owner recorded: a live stranger, pid 1, or our own', () => {
    const database = tempDatabase();
    for (const pid of [liveUnrelatedPid(), 1, process.pid]) {
      leaveLockFile(database, pid);
      const lock = acquireDatabaseLock(database);
      expect(recordedOwner(database)?.pid).toBe(process.pid);
      lock.release();
    }
  });

  it('leaves alone a file at the lock path that is not a lock, a bare pid included, and names it', async () => {
    for (const text of ['not yours\n', `${liveUnrelatedPid()}\n`]) {
      const database = tempDatabase();
      const lockFile = lockFileOf(database);
      writeFileSync(lockFile, text);
      const sentence =
        `${lockFile} is not a Metronome lock file (Metronome keeps a small SQLite database there). ` +
        'Move it elsewhere, then start Metronome again.';
      expect(() => acquireDatabaseLock(database)).toThrow(new DatabaseFileError(sentence));
      const refused = startBot({
        config: {
          discordToken: 'unused',
          databasePath: database,
          handlersDir: undefined,
          devGuildId: undefined,
          discordApiBase: 'http://127.0.0.1:9',
        },
        log: createLogger({ level: 'silent' }),
      });
      await expect(refused).rejects.toThrow(new StartupError(sentence));
      expect(readFileSync(lockFile, 'utf8')).toBe(text);
    }
  });

  it('can be released twice and taken again, here or by another process', async () => {
    const database = tempDatabase();
    const lock = acquireDatabaseLock(database);
    lock.release();
    lock.release();
    const again = acquireDatabaseLock(database);
    expect(() => acquireDatabaseLock(database)).toThrow(DatabaseLockedError);
    again.release();
    const holder = await startHolder(database);
    expect(await holder.acquire()).toMatchObject({ event: 'acquired' });
  }, 20_000);

  it('refuses a second lock in this process even through another path to the same file', async () => {
    const database = tempDatabase();
    const link = join(database, '..', 'link');
    mkdirSync(join(database, '..', 'real'));
    symlinkSync(join(database, '..', 'real'), link);
    const lock = acquireDatabaseLock(join(database, '..', 'real', 'bot.db'));
    let error: unknown;
    try {
      acquireDatabaseLock(join(link, 'bot.db'));
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(DatabaseLockedError);
    expect((error as DatabaseLockedError).pid).toBe(process.pid);
    // The refused attempt opened and closed the file; our lock must have survived it.
    const holder = await startHolder(join(link, 'bot.db'));
    expect(await holder.acquire()).toMatchObject({ event: 'refused', owner: process.pid });
    lock.release();
    expect(await holder.acquire()).toMatchObject({ event: 'acquired' });
  }, 20_000);

  it('refuses another process that names the database through a symbolic link to the file', async () => {
    const database = tempDatabase();
    const link = join(database, '..', 'alias.db');
    const owner = await startHolder(database);
    expect(await owner.acquire()).toEqual({ event: 'acquired', pid: owner.pid });
    symlinkSync(database, link);
    const other = await startHolder(link);
    expect(await other.acquire()).toEqual({
      event: 'refused',
      pid: other.pid,
      owner: owner.pid,
      message: `the database ${database} is locked by process ${owner.pid}`,
    });
    expect(recordedOwner(link)?.pid).toBe(owner.pid);
    expect(existsSync(`${link}.lock`)).toBe(false);
  }, 20_000);

  it('refuses a database file with a second name (a hard link), whichever name is used', async () => {
    const database = tempDatabase();
    const owner = await startHolder(database);
    expect(await owner.acquire()).toEqual({ event: 'acquired', pid: owner.pid });
    const link = join(database, '..', 'other.db');
    linkSync(database, link);
    const hardLinked =
      `The database ${link} has 2 names (hard links), so a second Metronome started through another name ` +
      'would not see this one, and SQLite could lose data after a crash. Remove the other names (find them ' +
      `with: find / -samefile ${link}), then start again.`;
    const other = await startHolder(link);
    expect(await other.acquire()).toEqual({ event: 'failed', pid: other.pid, message: hardLinked });
    // Once the owner has stopped, the database is still refused until the extra name is gone.
    expect(await owner.release()).toMatchObject({ event: 'released' });
    expect(() => acquireDatabaseLock(database)).toThrow(DatabaseFileError);
    expect(() => acquireDatabaseLock(database)).toThrow(`find / -samefile ${database}`);
    rmSync(link);
    acquireDatabaseLock(database).release();
  }, 20_000);

  it('needs no lock for an in-memory database', () => {
    const a = acquireDatabaseLock(':memory:');
    const b = acquireDatabaseLock(':memory:');
    a.release();
    b.release();
  });
});
