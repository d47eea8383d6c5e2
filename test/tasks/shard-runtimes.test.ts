// Several processes on one database file, each running the tasks of its own gateway shards (a TaskRuntime
// with `shards`), on one fake clock: each "process" is its own connection and runtime, as the ShardingManager's
// children are. A crash is a process abandoned mid-run (connection closed, no shutdown), as in crash-resume.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type DatabaseConnection,
  getTaskById,
  lastRuns,
  listRunIntents,
  openDatabase,
  writeRunIntents,
} from '../../src/db/index.js';
import {
  RUN_RETRY_WINDOW_MINUTES,
  type ShardScope,
  type Task,
  TaskError,
  TaskRuntime,
} from '../../src/tasks/index.js';
import { useTempDir } from '../db/helpers.js';
import { definition, MINUTE, runningTasks } from './helpers.js';

const T0 = Date.UTC(2025, 5, 2, 12, 0, 0);
const WINDOW = RUN_RETRY_WINDOW_MINUTES * MINUTE;

// A snowflake-sized timestamp part (well above 2^53 once shifted) divisible by 4, so guild k's shard is k % count.
const BASE = 300_000_000_000n;
/** A real-looking guild id whose shard is `k % count` for counts 1, 2 and 4. */
const guild = (k: number): string => (((BASE + BigInt(k)) << 22n) | 0x2a5n).toString();

interface Call {
  process: string;
  taskId: number;
  guildId: string;
  name: string;
  iteration: number;
  scheduledAt: number;
  nonce: string;
}

interface Process {
  label: string;
  conn: DatabaseConnection;
  runtime: TaskRuntime;
  /** Iterations (by "guild/name") whose handler never returns: the process dies in them. */
  dieDuring: Map<string, number>;
}

/** Processes started and ended by a test on one database file; whatever is still up is shut down after it. */
function useProcesses() {
  const tempDbPath = useTempDir();
  const up = new Set<Process>();
  const ends: Promise<void>[] = [];
  const calls: Call[] = [];
  let path: string;

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    calls.length = 0;
    path = tempDbPath();
  });
  afterEach(async () => {
    for (const process of up) ends.push(process.runtime.shutdown(0));
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all(ends.splice(0));
    for (const process of up) process.conn.close();
    up.clear();
    vi.useRealTimers();
  });

  const boot = (label: string, shards?: ShardScope): Process => {
    const conn = openDatabase(path);
    const dieDuring = new Map<string, number>();
    const runtime = new TaskRuntime({
      db: conn.db,
      ...(shards && { shards }),
      execute: async (task, ctx) => {
        calls.push({
          process: label,
          taskId: task.id,
          guildId: task.guildId,
          name: task.name,
          iteration: ctx.iteration,
          scheduledAt: ctx.scheduledAt.getTime(),
          nonce: ctx.nonce,
        });
        if (dieDuring.get(`${task.guildId}/${task.name}`) === ctx.iteration) await new Promise(() => {});
      },
    });
    const process = { label, conn, runtime, dieDuring };
    up.add(process);
    return process;
  };
  return {
    calls,
    /** A process with `shards`, or running every server's tasks. */
    boot,
    /** The process `shard` of `count`, running only that shard's servers. */
    shard: (shard: number, count: number) => boot(`${shard}/${count}`, { count, ids: [shard] }),
    /** The process dies now: nothing more of it reaches the file. */
    crash(process: Process) {
      process.conn.close();
      up.delete(process);
      ends.push(process.runtime.shutdown(0)); // its loops must not go on in this test process
    },
    async stop(process: Process) {
      up.delete(process);
      const done = process.runtime.shutdown(1_000);
      await vi.advanceTimersByTimeAsync(1_000);
      await done;
      process.conn.close();
    },
    /** Every process still up stops, and the processes booted next share a new, empty file. */
    async startOver() {
      const done = [...up].map((process) => process.runtime.shutdown(1_000));
      await vi.advanceTimersByTimeAsync(1_000);
      await Promise.all(done);
      for (const process of up) process.conn.close();
      up.clear();
      path = tempDbPath();
      calls.length = 0;
    },
  };
}

describe('processes of one shard each, on one database', () => {
  const { calls, boot, shard, stop, crash } = useProcesses();
  /** Calls after `fromMs`, as [process, guild index, task, minute of the slot]. */
  const callsFrom = (fromMs: number) =>
    calls
      .filter((call) => call.scheduledAt >= fromMs)
      .map((call) => [call.process, guildIndex(call.guildId), call.name, (call.scheduledAt - T0) / MINUTE]);

  it('resume disjoint sets whose union is every running task, and each runs its own', async () => {
    // Created by a process running every shard, which then shuts down: the rows are all running.
    const seeder = boot('seeder');
    for (let k = 0; k < 6; k++) {
      for (const name of ['a', 'b']) await seeder.runtime.create(guild(k), definition({ name }));
    }
    await seeder.runtime.create(guild(1), definition({ name: 'idle', start: false }));
    await vi.advanceTimersByTimeAsync(30_000);
    await stop(seeder);

    const even = shard(0, 2);
    const odd = shard(1, 2);
    const summaries = [even.runtime.resumeAll(), odd.runtime.resumeAll()];
    expect(summaries.map((s) => s.resumed)).toEqual([6, 6]);
    expect([runningTasks(even.runtime), runningTasks(odd.runtime)]).toEqual([6, 6]);
    await vi.advanceTimersByTimeAsync(MINUTE);

    const fired = callsFrom(T0 + MINUTE);
    const expected = [];
    for (let k = 0; k < 6; k++) for (const name of ['a', 'b']) expected.push([`${k % 2}/2`, k, name, 1]);
    expect(fired.sort()).toEqual(expected.sort()); // each running task once, by the process of its shard
    // A second resume in the same process finds nothing new, and never the other shard's.
    expect(even.runtime.resumeAll().resumed).toBe(0);
  });

  it.each([
    ['within the retry window', WINDOW - 10_000, { replayed: 1, interrupted: 0 }],
    ['past the retry window', WINDOW + 10_000, { replayed: 0, interrupted: 1 }],
  ])(
    'leave open attempts of the other shard alone, and replay their own (%s)',
    async (_, downtimeMs, own) => {
      // One process runs both servers; each task's second run "posts", then the process dies in it.
      const whole = boot('whole');
      whole.dieDuring.set(`${guild(0)}/ping`, 1);
      whole.dieDuring.set(`${guild(1)}/ping`, 1);
      const ping0 = await whole.runtime.create(guild(0), definition());
      const ping1 = await whole.runtime.create(guild(1), definition());
      // A stopped task whose attempt was left open (stopped while it ran): recorded as interrupted by its owner.
      const halted = await whole.runtime.create(guild(1), definition({ name: 'halted', start: false }));
      writeRunIntents(whole.conn.db, [{ taskId: halted.id, scheduledAt: T0, startedAt: T0, iteration: 0 }]);
      await vi.advanceTimersByTimeAsync(MINUTE);
      const firstTry = new Map(calls.filter((c) => c.iteration === 1).map((c) => [c.taskId, c.nonce]));
      expect(firstTry.size).toBe(2);
      const before = listRunIntents(whole.conn.db);
      crash(whole);
      vi.setSystemTime(Date.now() + downtimeMs);
      calls.length = 0;

      const even = shard(0, 2);
      expect(even.runtime.resumeAll()).toEqual({ resumed: 1, caughtUp: 0, failed: 0, ...own });
      await vi.advanceTimersByTimeAsync(0);
      // Shard 1's open attempts are exactly as the crash left them: not replayed, not recorded as interrupted.
      const db = even.conn.db;
      expect(listRunIntents(db).filter((intent) => intent.taskId !== ping0.id)).toEqual(
        before.filter((intent) => intent.taskId !== ping0.id),
      );
      expect(lastRuns(db, ping1.id, 10).map((run) => run.outcome)).toEqual(['ok']);
      expect(lastRuns(db, halted.id, 10)).toEqual([]);
      expect(getTaskById(db, ping1.id)).toMatchObject({ state: 'running', currentLoop: 1 });
      expect(calls.map((c) => c.taskId)).toEqual(own.replayed ? [ping0.id] : []);
      if (own.replayed) expect(calls[0]!.nonce).toBe(firstTry.get(ping0.id));

      // Shard 1's own process, started a little later, settles them by the same rules.
      vi.setSystemTime(Date.now() + 5_000);
      const odd = shard(1, 2);
      expect(odd.runtime.resumeAll()).toEqual({
        resumed: 1,
        caughtUp: 0,
        failed: 0,
        replayed: own.replayed,
        interrupted: own.interrupted + 1, // and the stopped task's attempt, which never replays
      });
      await vi.advanceTimersByTimeAsync(0);
      const oddCalls = calls.filter((c) => c.process === '1/2');
      if (own.replayed) {
        expect(oddCalls.map((c) => [c.taskId, c.iteration, c.nonce])).toEqual([
          [ping1.id, 1, firstTry.get(ping1.id)],
        ]);
      } else {
        expect(oddCalls).toEqual([]);
      }
      expect(lastRuns(db, halted.id, 10).map((run) => run.outcome)).toEqual(['interrupted']);
      expect(getTaskById(db, halted.id)).toMatchObject({ state: 'stopped', currentLoop: 1 });
      expect(listRunIntents(db)).toEqual([]);
    },
  );

  it('hand a server that moved shards (2 processes become 4) to its new owner only, at the next start', async () => {
    const old = [shard(0, 2), shard(1, 2)];
    const tasks: Task[] = [];
    for (let k = 0; k < 8; k++) tasks.push(await old[k % 2]!.runtime.create(guild(k), definition()));
    // Server 2 was shard 0's of 2 and is shard 2's of 4: the old owner dies during its second run.
    old[0]!.dieDuring.set(`${guild(2)}/ping`, 1);
    await vi.advanceTimersByTimeAsync(MINUTE);
    const firstTry = calls.find((c) => c.guildId === guild(2) && c.iteration === 1)!;
    crash(old[0]!);
    await stop(old[1]!);
    vi.setSystemTime(Date.now() + 30_000);
    calls.length = 0;

    const fresh = [0, 1, 2, 3].map((k) => shard(k, 4));
    const summaries = fresh.map((process) => process.runtime.resumeAll());
    expect(summaries.map((s) => [s.resumed, s.replayed])).toEqual([
      [2, 0],
      [2, 0],
      [2, 1],
      [2, 0],
    ]);
    await vi.advanceTimersByTimeAsync(2 * MINUTE);

    // The interrupted slot ran again once, by the new owner, with its nonce; then every slot once, by k % 4.
    const replay = calls.filter((c) => c.scheduledAt === firstTry.scheduledAt);
    expect(replay.map((c) => [c.process, c.guildId, c.nonce])).toEqual([['2/4', guild(2), firstTry.nonce]]);
    const later = callsFrom(T0 + 2 * MINUTE);
    const expected = [];
    for (let k = 0; k < 8; k++) for (const minute of [2, 3]) expected.push([`${k % 4}/4`, k, 'ping', minute]);
    expect(later.sort()).toEqual(expected.sort());
    // And the old owner's shard number now holds other servers: it refuses server 2's commands.
    await expect(fresh[0]!.runtime.stop(guild(2), 'ping')).rejects.toMatchObject({ code: 'other_shard' });
  });

  it("refuse commands for another shard's server, with a sentence, and write nothing", async () => {
    const even = shard(0, 2);
    const odd = shard(1, 2);
    await odd.runtime.create(guild(1), definition());
    const refusal = {
      code: 'other_shard',
      message:
        "This server's tasks are run by the Metronome process of shard 1 of 2, not this one (shard 0 of 2).",
    };
    await expect(even.runtime.create(guild(1), definition({ name: 'other' }))).rejects.toMatchObject(refusal);
    await expect(even.runtime.createAll(guild(1), [definition({ name: 'other' })])).rejects.toMatchObject(
      refusal,
    );
    for (const command of ['start', 'stop', 'cancel', 'restart', 'delete'] as const) {
      await expect(even.runtime[command](guild(1), 'ping')).rejects.toMatchObject(refusal);
    }
    await expect(even.runtime.create(guild(1), definition())).rejects.toBeInstanceOf(TaskError);
    await expect(
      even.runtime.updateSchedule(guild(1), 'ping', { kind: 'interval', seconds: 120 }),
    ).rejects.toMatchObject(refusal);
    expect(() => even.runtime.list(guild(1))).toThrow(refusal.message);
    expect(() => even.runtime.info(guild(1), 'ping')).toThrow(refusal.message);
    expect(odd.runtime.list(guild(1)).map((t) => [t.name, t.state, t.schedule])).toEqual([
      ['ping', 'running', { kind: 'interval', seconds: 60 }],
    ]);
    // A server id that is no snowflake cannot be placed on a shard: a bug upstream, not a member's doing.
    await expect(even.runtime.create('guild-1', definition())).rejects.toThrow(RangeError);
  });

  it('refuse a scope that names no shard, a shard twice, or one past the count', () => {
    const { conn } = shard(0, 2);
    const execute = () => Promise.resolve();
    for (const [shards, sentence] of [
      [{ count: 2, ids: [] }, 'A shard scope must hold at least one shard.'],
      [{ count: 2, ids: [0, 0] }, 'Shard 0 is named twice in the shard scope.'],
      [{ count: 2, ids: [2] }, 'Shard ids run from 0 to 1 for 2 shards, got 2.'],
      [{ count: 0, ids: [0] }, 'The shard count must be a whole number of at least 1, got 0.'],
    ] as const) {
      expect(() => new TaskRuntime({ db: conn.db, execute, shards })).toThrow(sentence);
    }
  });
});

describe('a shard process that dies and is respawned', () => {
  const { calls, boot, shard, crash, startOver } = useProcesses();

  /**
   * Shard 1's tasks ("hang" dies during its third run, at minute 2; "skip" and "once" every 10 minutes with
   * those catch-up policies) run in a process that dies and comes back after `downtimeMs`: shard 1's own
   * process while shard 0's runs on, or the whole bot. Returns what shard 1's tasks did once it came back.
   */
  async function dieAndComeBack(owner: 'shard process' | 'whole bot', downtimeMs: number) {
    const sharded = owner === 'shard process';
    const other = sharded ? shard(0, 2) : undefined;
    const first = sharded ? shard(1, 2) : boot('whole');
    first.dieDuring.set(`${guild(1)}/hang`, 2);
    await (other ?? first).runtime.create(guild(0), definition({ name: 'steady' }));
    const hang = await first.runtime.create(guild(1), definition({ name: 'hang' }));
    for (const catchUp of ['skip', 'once'] as const) {
      await first.runtime.create(
        guild(1),
        definition({ name: catchUp, catchUp, schedule: { kind: 'interval', seconds: 600 } }),
      );
    }
    await vi.advanceTimersByTimeAsync(2 * MINUTE);
    crash(first);
    await vi.advanceTimersByTimeAsync(downtimeMs);
    const respawned = sharded ? shard(1, 2) : boot('whole');
    const mark = calls.length;
    const summary = respawned.runtime.resumeAll();
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    const after = calls
      .slice(mark)
      .filter((c) => c.guildId === guild(1))
      .map((c) => [c.name, c.iteration, (c.scheduledAt - T0) / MINUTE]);
    const steady = calls.filter((c) => c.name === 'steady').map((c) => (c.scheduledAt - T0) / MINUTE);
    const outcomes = lastRuns(respawned.conn.db, hang.id, 100).map((r) => [
      r.outcome,
      (r.scheduledAt - T0) / MINUTE,
    ]);
    return { summary, after, steady, outcomes };
  }

  it('resumes its tasks by their catch-up rules while the other shard runs on', async () => {
    const respawn = await dieAndComeBack('shard process', 15 * MINUTE);
    expect(respawn.summary).toEqual({ resumed: 3, caughtUp: 1, replayed: 0, interrupted: 1, failed: 0 });
    // Back at minute 17: "hang" goes on from that slot (its slot 2 interrupted, and counted), "once" runs its
    // missed minute-10 slot now, "skip" waits for minute 20.
    expect(respawn.after.sort()).toEqual(
      [
        ['hang', 3, 17],
        ['hang', 4, 18],
        ['hang', 5, 19],
        ['hang', 6, 20],
        ['hang', 7, 21],
        ['hang', 8, 22],
        ['once', 1, 10],
        ['once', 2, 20],
        ['skip', 1, 20],
      ].sort(),
    );
    expect(respawn.outcomes.slice(-4).reverse()).toEqual([
      ['ok', 0],
      ['ok', 1],
      ['interrupted', 2],
      ['ok', 17],
    ]);
    // The other shard's process went on as if nothing happened: every minute once.
    expect(respawn.steady).toEqual(Array.from({ length: 23 }, (_, minute) => minute));
  });

  it.each([
    ['past the retry window', 15 * MINUTE],
    ['within the retry window', MINUTE],
  ])('resumes exactly as a restart of the whole bot would (%s)', async (_, downtimeMs) => {
    const respawn = await dieAndComeBack('shard process', downtimeMs);
    await startOver();
    vi.setSystemTime(T0);
    const restart = await dieAndComeBack('whole bot', downtimeMs);
    // The whole bot resumes shard 0's "steady" as well, with nothing to catch up.
    expect(respawn.summary).toEqual({ ...restart.summary, resumed: restart.summary.resumed - 1 });
    expect(respawn.after).toEqual(restart.after);
    expect(respawn.outcomes).toEqual(restart.outcomes);
    expect(respawn.summary.resumed).toBe(3);
    expect(respawn.after.length).toBeGreaterThanOrEqual(5);
  });
});

function guildIndex(guildId: string): number {
  return Number((BigInt(guildId) >> 22n) - BASE);
}
