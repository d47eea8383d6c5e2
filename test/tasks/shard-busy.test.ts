// Shard processes share one SQLite file, so one process's write can meet another's write lock. Nobody may
// freeze waiting for it (SQLite waits ~100 ms, the rest is retried on timers), and nothing may be lost or
// done twice. The locks here are real: another process (a child holding BEGIN IMMEDIATE), or a second
// connection taking the lock in the middle of start-up.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import Sqlite from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { retryWhileBusy } from '../../src/db/busy.js';
import { isDatabaseBusy } from '../../src/db/errors.js';
import {
  type DatabaseConnection,
  getMeta,
  getTaskById,
  lastRuns,
  listRunIntents,
  openDatabase,
} from '../../src/db/index.js';
import type { JournalWriteEvent, RunRecordedEvent } from '../../src/tasks/events.js';
import { TaskRuntime } from '../../src/tasks/index.js';
import { useTempDir } from '../db/helpers.js';
import { definition, MINUTE, runningTasks } from './helpers.js';

const BASE = 300_000_000_000n;
const guild = (k: number): string => (((BASE + BigInt(k)) << 22n) | 0x2a5n).toString();

describe('start-up while another process holds the write lock', () => {
  const T0 = Date.UTC(2025, 5, 2, 12, 0, 0);
  const tempDbPath = useTempDir();
  let conn: DatabaseConnection;
  let other: Sqlite.Database;

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    const path = tempDbPath();
    conn = openDatabase(path);
    other = new Sqlite(path);
  });
  afterEach(() => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    conn.close();
    vi.useRealTimers();
  });

  it('is tried again from where it stopped: every task resumed once and every open attempt settled once', async () => {
    // 1,500 running tasks of shards 0 and 1 of 2 (two pages of start-up), each with an attempt a crash left
    // open ten minutes ago: each page writes their records. Off the minute grid, so none is due at once.
    const slot = T0 - 10 * MINUTE - 30_000;
    other
      .prepare(
        `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < 1499)
         INSERT INTO tasks (guild_id, name, kind, options, schedule, state, next_run_at, channel_id, created_by,
                            created_at, updated_at)
         SELECT CAST(((@base + i) << 22) | 677 AS TEXT), 't' || i, 'reminder', '{}', @schedule, 'running', @slot,
                'c1', 'u1', @slot, @slot
         FROM seq`,
      )
      .run({ base: Number(BASE), schedule: JSON.stringify({ kind: 'interval', seconds: 60 }), slot });
    other.prepare('INSERT INTO run_intents SELECT id, @slot, @slot, 0 FROM tasks').run({ slot });
    const ids = other.prepare('SELECT id FROM tasks ORDER BY id').pluck().all() as number[];
    expect(ids).toHaveLength(1_500);
    expect(getTaskById(conn.db, ids[1]!)!.guildId).toBe(guild(1));
    // Halfway through the second page's planning, another connection takes the write lock.
    let warned = 0;
    const log = pino(
      { level: 'warn' },
      {
        write: () => {
          if (++warned === 1_200) other.exec('BEGIN IMMEDIATE');
        },
      },
    );
    const runtime = new TaskRuntime({ db: conn.db, execute: () => Promise.resolve(), log });
    const recorded: RunRecordedEvent[] = [];
    runtime.events.on('runRecorded', (event) => recorded.push(event));

    let thrown: unknown;
    try {
      runtime.resumeAll();
    } catch (error) {
      thrown = error;
    }
    expect(isDatabaseBusy(thrown)).toBe(true);
    expect(runningTasks(runtime)).toBe(1_000); // the first page, committed, runs
    expect(listRunIntents(conn.db)).toHaveLength(500);
    other.exec('ROLLBACK');

    const summary = await retryWhileBusy(() => runtime.resumeAll());
    expect(summary).toEqual({ resumed: 1_500, caughtUp: 0, replayed: 0, interrupted: 1_500, failed: 0 });
    expect(runningTasks(runtime)).toBe(1_500);
    expect(listRunIntents(conn.db)).toEqual([]);
    expect(recorded.filter((event) => event.outcome === 'interrupted')).toHaveLength(1_500);
    for (const id of [ids[0]!, ids[1_234]!, ids[1_499]!]) {
      expect(lastRuns(conn.db, id, 10).map((run) => [run.outcome, run.scheduledAt])).toEqual([
        ['interrupted', slot],
      ]);
      expect(getTaskById(conn.db, id)).toMatchObject({ state: 'running', currentLoop: 1 });
    }
    const done = runtime.shutdown(0);
    await vi.advanceTimersByTimeAsync(1_000);
    await done;
  });
});

describe('a shard process firing while another process holds the write lock', () => {
  const tempDbPath = useTempDir();
  let conn: DatabaseConnection;
  let holder: ChildProcessWithoutNullStreams | undefined;
  let runtime: TaskRuntime | undefined;

  beforeEach(() => {
    conn = openDatabase(tempDbPath());
  });
  afterEach(async () => {
    holder?.kill();
    if (holder && holder.exitCode === null) await once(holder, 'exit');
    holder = undefined;
    await runtime?.shutdown(0);
    runtime = undefined;
    conn.close();
  });

  /**
   * Another process that takes the database's write lock (and writes under it), says "locked", and commits
   * when told "release" on its stdin, then says "released".
   */
  async function lockFromAnotherProcess(path: string) {
    const script = `
      const Sqlite = require('better-sqlite3');
      const db = new Sqlite(process.argv[1]);
      db.exec('BEGIN IMMEDIATE');
      db.prepare("INSERT INTO meta (key, value) VALUES ('held-by', ?)").run(String(process.pid));
      console.log('locked');
      process.stdin.once('data', () => {
        db.exec('COMMIT');
        db.close();
        console.log('released');
        process.exit(0);
      });`;
    const child = spawn(process.execPath, ['-e', script, path], { cwd: process.cwd() });
    holder = child;
    const lines = createInterface({ input: child.stdout });
    const said = (word: string) =>
      new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`the lock holder exited (${code}) before "${word}"`)));
        lines.on('line', (line) => line === word && resolve());
      });
    await said('locked');
    return {
      release: async () => {
        const released = said('released');
        child.stdin.write('release\n');
        await released;
      },
    };
  }

  /** Resolves at the first journal write matching `test`. */
  const nextWrite = (test: (event: JournalWriteEvent) => boolean) =>
    new Promise<JournalWriteEvent>((resolve) => {
      const listener = (event: JournalWriteEvent) => {
        if (!test(event)) return;
        runtime!.events.off('journalWrite', listener);
        resolve(event);
      };
      runtime!.events.on('journalWrite', listener);
    });

  it('waits on timers, not frozen: its writes fail fast, commands retry, and all is written once it is free', async () => {
    const path = conn.sqlite.name;
    runtime = new TaskRuntime({
      db: conn.db,
      execute: () => Promise.resolve(),
      shards: { count: 2, ids: [0] },
      minIntervalSeconds: 1,
    });
    const ping = await runtime.create(guild(0), definition({ schedule: { kind: 'interval', seconds: 1 } }));
    await nextWrite((event) => event.what === 'records' && event.ok);

    const lock = await lockFromAnotherProcess(path);
    // The event loop goes on while the lock is held: count its turns between the refused writes.
    let turns = 0;
    const ticker = setInterval(() => turns++, 5);
    try {
      const refused: JournalWriteEvent[] = [];
      while (refused.length < 2) refused.push(await nextWrite((event) => !event.ok));
      // A command meanwhile is retried on timers until the lock goes (or answers "busy" after 2 s), and the
      // event loop keeps turning while it waits.
      const creating = runtime.create(guild(2), definition({ name: 'later' }));
      const turnsBefore = turns;
      await new Promise<void>((resolve) => {
        const watch = setInterval(() => {
          if (turns < turnsBefore + 3) return;
          clearInterval(watch);
          resolve();
        }, 5);
      });
      // SQLite waits ~100 ms per refused write (busy_timeout), never its 5 s default; loose for a loaded machine.
      for (const write of refused) expect(write.durationMs).toBeLessThan(2_000);
      // Reads are not blocked by a writer (WAL).
      expect(runtime.list(guild(0)).map((task) => task.name)).toEqual(['ping']);

      await lock.release();
      expect(getMeta(conn.db, 'held-by')).toBe(String(holder!.pid));
      await expect(creating).resolves.toMatchObject({ name: 'later', state: 'running' });
      await nextWrite((event) => event.what === 'records' && event.ok && event.queued === 0);
    } finally {
      clearInterval(ticker);
    }
    await runtime.shutdown(1_000);
    const runs = lastRuns(conn.db, ping.id, 100).reverse();
    // Attempts that met the lock were retried (the same slot); every slot is recorded, oldest first.
    expect(
      runs.filter((run) => run.outcome !== 'ok').every((run) => /busy|locked/.test(run.error ?? '')),
    ).toBe(true);
    const ok = runs.filter((run) => run.outcome === 'ok').map((run) => run.scheduledAt);
    expect(new Set(ok).size).toBe(ok.length);
    expect(ok).toEqual([...ok].sort((a, b) => a - b));
    expect(getTaskById(conn.db, ping.id)!.currentLoop).toBe(ok.length);
    expect(listRunIntents(conn.db)).toEqual([]);
  }, 30_000);
});
