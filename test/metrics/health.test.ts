// The health checks on a real SQLite file and the real event loop: tasks counted by state in one query, a
// write lock held by another connection (briefly: healthy; past the grace: not), a read-only database, a run
// journal that keeps failing, and a stalled event loop.
import Sqlite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, tasks } from '../../src/db/index.js';
import { countTasksByState } from '../../src/db/stats.js';
import {
  checkHealth,
  formatDuration,
  watchDatabaseHealth,
  watchEventLoop,
} from '../../src/metrics/health.js';
import { RuntimeEvents } from '../../src/tasks/events.js';
import { taskValues, useTempDir } from '../db/helpers.js';
import { eventually } from '../handlers/helpers.js';

const tempPath = useTempDir();
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function database() {
  const path = tempPath();
  const connection = openDatabase(path);
  closers.push(() => connection.close());
  return { path, connection };
}

describe('countTasksByState', () => {
  it('counts every state, zero included', () => {
    const { connection } = database();
    const states = ['running', 'running', 'failed', 'stopped', 'running'] as const;
    connection.db
      .insert(tasks)
      .values(states.map((state, i) => taskValues({ name: `t${i}`, state })))
      .run();
    expect(countTasksByState(connection.db)).toEqual({
      running: 3,
      stopped: 1,
      cancelled: 0,
      failed: 1,
      completed: 0,
    });
  });
});

describe('the database check', () => {
  it('is healthy when the write lock can be taken, and leaves the busy timeout as it was', async () => {
    const { connection } = database();
    const health = watchDatabaseHealth({ sqlite: connection.sqlite });
    expect(await health.check()).toBeUndefined();
    expect(connection.sqlite.pragma('busy_timeout', { simple: true })).toBe(100);
    expect(connection.sqlite.inTransaction).toBe(false);
  });

  it('waits out another writer between probes, and reports one that holds the lock past the grace', async () => {
    const { path, connection } = database();
    const other = new Sqlite(path);
    closers.push(() => other.close());
    const health = watchDatabaseHealth({ sqlite: connection.sqlite, busyGraceMs: 250 });

    other.exec('BEGIN IMMEDIATE');
    const brief = health.check();
    // Released while the check waits between probes: still writable.
    setImmediate(() => other.exec('COMMIT'));
    expect(await brief).toBeUndefined();

    other.exec('BEGIN IMMEDIATE');
    expect(await health.check()).toBe('database: locked by another writer for over 250 ms');
    other.exec('COMMIT');
    expect(await health.check()).toBeUndefined();
  });

  it('reports a connection opened read-only, and one that is closed', async () => {
    const { path } = database();
    const readOnly = new Sqlite(path, { readonly: true });
    closers.push(() => readOnly.close());
    expect(await watchDatabaseHealth({ sqlite: readOnly }).check()).toBe('database: opened read-only');
    const closed = new Sqlite(path);
    closed.close();
    expect(await watchDatabaseHealth({ sqlite: closed }).check()).toBe(
      'database: cannot write (the connection is closed)',
    );
  });

  it('reports run-journal writes failing for longer than the grace, until one succeeds', async () => {
    const { connection } = database();
    const events = new RuntimeEvents();
    let now = 1_000_000;
    const health = watchDatabaseHealth({
      sqlite: connection.sqlite,
      events,
      queuedRecords: () => 7,
      journalGraceMs: 30_000,
      now: () => now,
    });
    const write = (ok: boolean) =>
      events.emit('journalWrite', { what: 'records', rows: 7, durationMs: 3, ok, queued: ok ? 0 : 7 });
    write(false);
    now += 29_000;
    write(false);
    expect(await health.check()).toBeUndefined();
    now += 1_000;
    expect(await health.check()).toBe('database: run-journal writes failing for 30s (7 run records waiting)');
    write(true);
    expect(await health.check()).toBeUndefined();
    health.stop();
    write(false);
    now += 60_000;
    expect(await health.check()).toBeUndefined();
  });
});

describe('the event-loop check', () => {
  it('reports a stall past the threshold', async () => {
    const eventLoop = watchEventLoop({ stallMs: 50, windowMs: 60_000, sampleEveryMs: 20 });
    closers.push(() => eventLoop.stop());
    expect(eventLoop.check()).toBeUndefined();
    const until = performance.now() + 120;
    while (performance.now() < until) {
      // A handler that never yields, for 120 ms.
    }
    const reason = await eventually(() => {
      const found = eventLoop.check();
      expect(found).toMatch(/^event loop: stalled for \d+\.\d s within the last 1m00s$/);
      return found;
    });
    // At least the 120 ms block less one sampling period.
    expect(Number(reason?.split(' ')[4])).toBeGreaterThanOrEqual(0.1);
  });
});

describe('checkHealth', () => {
  it('joins the reasons of every failing check into one line', async () => {
    expect(await checkHealth([() => undefined, async () => undefined])).toBeUndefined();
    expect(
      await checkHealth([
        () => 'gateway: not connected yet',
        async () => undefined,
        async () => 'database: x',
      ]),
    ).toBe('gateway: not connected yet; database: x');
  });

  it('formats lengths as an operator reads them', () => {
    expect([0, 999, 45_000, 60_000, 133_000, 3_599_000, 3_600_000, 7_380_000].map(formatDuration)).toEqual([
      '0s',
      '0s',
      '45s',
      '1m00s',
      '2m13s',
      '59m59s',
      '1h00m',
      '2h03m',
    ]);
    expect(formatDuration(-5)).toBe('0s');
  });
});
