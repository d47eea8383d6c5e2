// One lock per shard: two processes never hold the same shard, a dead holder's shards free at once, and a
// process with another shard count is refused while any process of the running count holds a shard.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  acquireShardLocks,
  type DatabaseLock,
  DatabaseLockedError,
  ShardCountMismatchError,
  shardLockPath,
} from '../../src/db/lock.js';

const HOLDER = fileURLToPath(new URL('../bot/fixtures/lock-holder.ts', import.meta.url));

const locks: DatabaseLock[] = [];
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const lock of locks.splice(0)) lock.release();
  await Promise.all(
    children.splice(0).map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDatabase(): string {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-shard-lock-'));
  dirs.push(dir);
  return join(dir, 'bot.db');
}

function take(database: string, count: number, ids: number[]): DatabaseLock {
  const lock = acquireShardLocks(database, { count, ids });
  locks.push(lock);
  return lock;
}

function refusal(database: string, count: number, ids: number[]): unknown {
  try {
    take(database, count, ids);
  } catch (error) {
    return error;
  }
  throw new Error(`shards ${ids.join(',')} of ${count} were not refused`);
}

interface HolderEvent {
  event: string;
  pid: number;
  owner?: number | null;
  count?: number;
}

/** A separate process holding `ids` of `count` (test/bot/fixtures/lock-holder.ts); resolves once it answered. */
async function holder(
  database: string,
  count: number,
  ids: number[],
): Promise<{ child: ChildProcess; result: HolderEvent; gone: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, database, String(count), ids.join(',')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const events = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await events.next()).value as string) as HolderEvent;
  expect((await next()).event).toBe('ready');
  child.stdin!.write('acquire\n');
  const result = await next();
  return {
    child,
    result,
    gone: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

describe('shard locks in one process', () => {
  it('gives each shard to one holder, and names the shard refused', () => {
    const database = tempDatabase();
    const first = take(database, 2, [0]);
    // Shard 0 keeps the single-process name, so a bot of one process and shard 0 of many exclude each other.
    expect(first.path).toMatch(/\/bot\.db\.lock$/);
    expect(take(database, 2, [1]).path).toBe(shardLockPath(first.path.slice(0, -'.lock'.length), 1));
    const error = refusal(database, 2, [1]);
    expect(error).toBeInstanceOf(DatabaseLockedError);
    expect(error).toMatchObject({ pid: process.pid, shard: { id: 1, count: 2 } });
    expect(refusal(database, 2, [0, 1])).toBeInstanceOf(DatabaseLockedError);
  });

  it('takes a whole group or nothing', () => {
    const database = tempDatabase();
    take(database, 4, [2]);
    expect(refusal(database, 4, [1, 2])).toMatchObject({ shard: { id: 2, count: 4 } });
    // Shard 1 was let go when shard 2 was refused.
    take(database, 4, [1]);
  });

  it('refuses another shard count while any shard of the running count is held, and allows it after', () => {
    const database = tempDatabase();
    const zero = take(database, 2, [0]);
    const one = take(database, 2, [1]);
    const error = refusal(database, 4, [3]);
    expect(error).toBeInstanceOf(ShardCountMismatchError);
    expect(error).toMatchObject({ wanted: 4, running: { count: 2, pid: process.pid } });
    // One process of the old count is enough to keep the count.
    zero.release();
    expect(refusal(database, 1, [0])).toBeInstanceOf(ShardCountMismatchError);
    one.release();
    take(database, 4, [0, 1, 2, 3]);
    expect(refusal(database, 2, [0])).toMatchObject({ running: { count: 4 } });
  });

  it('can be released twice and taken again', () => {
    const database = tempDatabase();
    const lock = take(database, 3, [0, 2]);
    lock.release();
    lock.release();
    take(database, 3, [2]);
    take(database, 3, [0]);
  });
});

describe('shard locks across processes', () => {
  it('refuses a held shard and another count, and frees both at once when the holder is killed', async () => {
    const database = tempDatabase();
    const other = await holder(database, 2, [0]);
    expect(other.result).toEqual({ event: 'acquired', pid: other.child.pid });

    expect(refusal(database, 2, [0])).toMatchObject({ pid: other.child.pid, shard: { id: 0, count: 2 } });
    expect(refusal(database, 4, [1])).toMatchObject({
      wanted: 4,
      running: { count: 2, pid: other.child.pid },
    });
    take(database, 2, [1]).release();

    await other.gone(); // SIGKILL: the kernel drops its locks
    take(database, 4, [0, 1]);
  }, 20_000);

  it('lets every process of one count run when they start at once on a fresh database', async () => {
    const database = tempDatabase();
    const started = await Promise.all([0, 1, 2, 3].map((id) => holder(database, 4, [id])));
    expect(started.map((h) => h.result.event)).toEqual(['acquired', 'acquired', 'acquired', 'acquired']);
  }, 30_000);

  it('lets processes of only one count run when two counts start at once', async () => {
    const database = tempDatabase();
    const started = await Promise.all([
      holder(database, 2, [0]),
      holder(database, 4, [1]),
      holder(database, 2, [1]),
      holder(database, 4, [3]),
    ]);
    const counts = [2, 4, 2, 4];
    const running = started.flatMap((h, i) => (h.result.event === 'acquired' ? [counts[i]] : []));
    expect(running.length).toBeGreaterThan(0);
    expect(new Set(running).size).toBe(1);
    for (const h of started) {
      if (h.result.event !== 'acquired') {
        expect(h.result).toMatchObject({ event: 'mismatch', count: running[0] });
      }
    }
  }, 30_000);
});
