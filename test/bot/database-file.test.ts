// A database file the bot cannot use, started the way an owner starts it (src/main.ts as a child process):
// each case ends with exit code 1 and one plain stderr line naming the file and what to do. All of them fail
// before the bot reaches Discord, so no emulator is needed.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const MAIN = join(ROOT, 'src/main.ts');
/** `nobody`: as root, a file mode alone cannot stop a write, so the bot runs as a user it does stop. */
const OTHER_USER = 65_534;
const isRoot = process.getuid?.() === 0;

const RESTORE =
  'stop the bot, put the latest copy made by `npm run backup` in its place and delete the -wal and -shm ' +
  'files beside it (README, "Operating it").';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-dbfile-'));
  chmodSync(dir, 0o755); // the other user must be able to reach the files inside
  dirs.push(dir);
  return dir;
}

interface Ended {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm start` on `databasePath`, as `uid` if given; resolves when it has exited. */
function startBot(databasePath: string, uid?: number): Promise<Ended> {
  const child = spawn(TSX, [MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      DISCORD_TOKEN: 'not-a-real-token',
      // Never reached: SHARD_COUNT=auto's question fails and the bot starts as one process, then every case
      // here stops at the database, before connecting.
      DISCORD_API_BASE: 'http://127.0.0.1:9/api',
      DATABASE_PATH: databasePath,
      LOG_LEVEL: 'silent',
    },
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A real Metronome database with enough tasks to span a hundred pages or so, closed and checkpointed. */
function realDatabase(path: string): void {
  const conn = openDatabase(path);
  const insert = conn.sqlite.prepare(
    'INSERT INTO tasks (guild_id, name, kind, options, schedule, channel_id, created_by, created_at, ' +
      "updated_at) VALUES (?, ?, 'reminder', ?, '{\"kind\":\"interval\",\"seconds\":60}', '1', 'u', 1, 1)",
  );
  conn.sqlite.transaction(() => {
    for (let i = 0; i < 3_000; i++) {
      insert.run(`g${i % 10}`, `task-${i}`, JSON.stringify({ message: `reminder number ${i}` }));
    }
  })();
  conn.close(); // the last connection checkpoints the WAL into the file and deletes it
}

function expectOneLine(ended: Ended, line: string): void {
  expect(ended.code).toBe(1);
  expect(ended.stderr).toBe(`${line}\n`);
  expect(ended.stdout).toBe('');
}

describe('a database file the bot cannot use', () => {
  it('garbage: says it is not a SQLite database', async () => {
    const file = join(tempDir(), 'bot.db');
    writeFileSync(file, 'these are my notes, not a database\n'.repeat(200));
    expectOneLine(
      await startBot(file),
      `${file} is not a SQLite database (or it is encrypted, or damaged past reading). Point ` +
        `DATABASE_PATH at Metronome's database, or restore a backup: ${RESTORE}`,
    );
  }, 30_000);

  it('one page overwritten in the middle: quick_check finds it and points at the restore steps', async () => {
    const file = join(tempDir(), 'bot.db');
    realDatabase(file);
    const pageSize = 4096;
    const middle = Math.floor(statSync(file).size / pageSize / 2);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, middle * pageSize);
    closeSync(fd);
    const ended = await startBot(file);
    expect(ended.code).toBe(1);
    expect(ended.stderr).toMatch(
      new RegExp(`^The database ${file} is damaged \\([^\\n]+\\), so Metronome will not start on it: `),
    );
    expect(ended.stderr.endsWith(`${RESTORE}\n`)).toBe(true);
    expect(ended.stderr.split('\n')).toHaveLength(2);
  }, 30_000);

  it('truncated: says it is damaged', async () => {
    const file = join(tempDir(), 'bot.db');
    realDatabase(file);
    truncateSync(file, Math.floor(statSync(file).size / 2));
    const ended = await startBot(file);
    expect(ended.code).toBe(1);
    expect(ended.stderr).toMatch(
      new RegExp(`^The database ${file} is damaged \\(.+\\), so Metronome will not`),
    );
    expect(ended.stderr.split('\n')).toHaveLength(2);
  }, 30_000);

  it('a folder: asks for a file inside it', async () => {
    const folder = join(tempDir(), 'data');
    mkdirSync(folder);
    expectOneLine(
      await startBot(folder),
      `DATABASE_PATH names a folder, ${folder}, not a database file. Name a file inside it instead, such as ` +
        `${join(folder, 'metronome.db')}.`,
    );
  }, 30_000);

  it("another program's SQLite file: refused, and left exactly as it was", async () => {
    const file = join(tempDir(), 'notes.db');
    const other = new Sqlite(file);
    other.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES (1)');
    other.close();
    const before = readFileSync(file);
    expectOneLine(
      await startBot(file),
      `${file} is another program's SQLite database (tables notes), not Metronome's. Point DATABASE_PATH ` +
        "at a new file or at Metronome's own database.",
    );
    expect(readFileSync(file).equals(before)).toBe(true); // not even switched to WAL
  }, 30_000);

  it('a newer schema: asks for an upgrade', async () => {
    const file = join(tempDir(), 'bot.db');
    const conn = openDatabase(file);
    conn.sqlite
      .prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)')
      .run('a-migration-from-the-future', Date.now());
    conn.close();
    expectOneLine(
      await startBot(file),
      `The database ${file} has 1 migration(s) this version of Metronome does not know: it was written by a ` +
        'newer version. Upgrade Metronome, or point DATABASE_PATH at another file.',
    );
  }, 30_000);

  // As root the bot runs as `nobody` here, for whom root's files are as read-only as a read-only mount.
  const uid = isRoot ? OTHER_USER : undefined;
  const userNote = ` (uid ${uid ?? process.getuid?.()})`;

  it('a read-only file: names it and asks for write access', async () => {
    const dir = tempDir();
    const file = join(dir, 'bot.db');
    realDatabase(file);
    if (isRoot)
      chownSync(dir, OTHER_USER, OTHER_USER); // the folder is writable, the file is root's
    else chmodSync(file, 0o444);
    expectOneLine(
      await startBot(file, uid),
      `Metronome cannot write to the database ${file}: ${file} is not writable by this user. Make the file ` +
        `and its folder writable by the user running the bot${userNote}, or point DATABASE_PATH at a ` +
        'writable place.',
    );
  }, 30_000);

  it('a folder it cannot write to: names the folder', async () => {
    const dir = tempDir();
    const file = join(dir, 'bot.db');
    realDatabase(file);
    if (isRoot)
      chownSync(file, OTHER_USER, OTHER_USER); // the file is writable, the folder is root's
    else chmodSync(dir, 0o555);
    expectOneLine(
      await startBot(file, uid),
      `Metronome cannot write to the database ${file}: its folder ${dir} is not writable by this user ` +
        '(SQLite keeps its -wal, -shm and .lock files there). Make the file and its folder writable by the ' +
        `user running the bot${userNote}, or point DATABASE_PATH at a writable place.`,
    );
    chmodSync(dir, 0o755);
  }, 30_000);
});
