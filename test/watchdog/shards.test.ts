// With the shards spread over processes, each process's watchdog sees and fails only its own servers' runs,
// and a quarantine it leaves for its next start is its own file, which another process never applies.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { insertTask, openDatabase } from '../../src/db/index.js';
import {
  applyPendingQuarantine,
  pendingQuarantinePath,
  quarantineEntries,
  readRunsInFlight,
  writePendingQuarantine,
} from '../../src/watchdog/runs-in-flight.js';
import { taskValues, useTempDir } from '../db/helpers.js';

/** Guild ids on shard 0 and shard 1 of 2 ((id >> 22) % 2), beyond 2^53 as real ones are. */
const ON_SHARD_0 = String(1_300_000_000_000_000_000n - (1_300_000_000_000_000_000n % (1n << 23n)));
const ON_SHARD_1 = String(BigInt(ON_SHARD_0) + (1n << 22n));

function withRunsOnBothShards(path = ':memory:') {
  const conn = openDatabase(path);
  const zero = insertTask(conn.db, taskValues({ name: 'zero', guildId: ON_SHARD_0, state: 'running' }));
  const one = insertTask(conn.db, taskValues({ name: 'one', guildId: ON_SHARD_1, state: 'running' }));
  const intent = conn.sqlite.prepare(
    'INSERT INTO run_intents (task_id, scheduled_at, started_at, iteration) VALUES (?, ?, ?, ?)',
  );
  intent.run(zero.id, 1_000, 1_010, 0);
  intent.run(one.id, 1_000, 1_020, 0);
  return { conn, zero, one };
}

const stateOf = (conn: ReturnType<typeof openDatabase>, id: number) =>
  (conn.sqlite.prepare('SELECT state FROM tasks WHERE id = ?').get(id) as { state: string }).state;

describe('the watchdog of one shard process', () => {
  it("reads the runs in flight of its own shards' servers only", () => {
    const { conn, zero, one } = withRunsOnBothShards();
    expect(readRunsInFlight(conn.sqlite, { count: 2, ids: [0] }).map((run) => run.taskId)).toEqual([zero.id]);
    expect(readRunsInFlight(conn.sqlite, { count: 2, ids: [1] }).map((run) => run.taskId)).toEqual([one.id]);
    expect(readRunsInFlight(conn.sqlite, { count: 2, ids: [0, 1] })).toHaveLength(2);
    expect(readRunsInFlight(conn.sqlite)).toHaveLength(2);
    conn.close();
  });

  it('leaves its quarantine in a file of its own, which only its next start applies', () => {
    const databasePath = useTempDirPath();
    const { conn, zero, one } = withRunsOnBothShards(databasePath);
    const shardOne = { count: 2, ids: [1] };
    expect(pendingQuarantinePath(databasePath)).toBe(`${databasePath}.quarantine.json`);
    expect(pendingQuarantinePath(databasePath, shardOne)).toBe(
      `${databasePath}.quarantine-shards-1-of-2.json`,
    );
    const runs = readRunsInFlight(conn.sqlite, shardOne);
    writePendingQuarantine(databasePath, quarantineEntries(runs, 30_000), shardOne);

    // Shard 0's process starts: its file is absent, and shard 1's task is not its to fail.
    expect(applyPendingQuarantine(conn.sqlite, databasePath, 5_000, { count: 2, ids: [0] })).toEqual([]);
    expect(applyPendingQuarantine(conn.sqlite, databasePath, 5_000)).toEqual([]);
    expect(stateOf(conn, one.id)).toBe('running');
    expect(existsSync(pendingQuarantinePath(databasePath, shardOne))).toBe(true);

    expect(applyPendingQuarantine(conn.sqlite, databasePath, 5_000, shardOne)).toEqual([one.id]);
    expect([stateOf(conn, zero.id), stateOf(conn, one.id)]).toEqual(['running', 'failed']);
    expect(existsSync(pendingQuarantinePath(databasePath, shardOne))).toBe(false);
    conn.close();
  });
});

const useTempDirPath = useTempDir();
