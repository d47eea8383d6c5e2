// What the watchdog reads and writes through its own connection: the runs in flight, and the quarantine.
import { describe, expect, it } from 'vitest';
import { insertTask, openDatabase } from '../../src/db/index.js';
import { formatSeconds, quarantine, readRunsInFlight } from '../../src/watchdog/runs-in-flight.js';
import { taskValues, useTempDir } from '../db/helpers.js';

function withTasks() {
  const conn = openDatabase(':memory:');
  const spin = insertTask(conn.db, taskValues({ name: 'spin', kind: 'busy', state: 'running' }));
  const post = insertTask(conn.db, taskValues({ name: 'post', guildId: 'g2', state: 'running' }));
  const idle = insertTask(conn.db, taskValues({ name: 'idle', state: 'running' }));
  const intent = conn.sqlite.prepare(
    'INSERT INTO run_intents (task_id, scheduled_at, started_at, iteration) VALUES (?, ?, ?, ?)',
  );
  return { conn, spin, post, idle, intent };
}

describe('readRunsInFlight', () => {
  it('lists the open intents with their tasks, oldest first', () => {
    const { conn, spin, post, intent } = withTasks();
    intent.run(post.id, 2_000, 2_050, 3);
    intent.run(spin.id, 1_000, 1_010, 0);
    expect(readRunsInFlight(conn.sqlite)).toEqual([
      {
        taskId: spin.id,
        guildId: 'g1',
        name: 'spin',
        kind: 'busy',
        scheduledAt: 1_000,
        startedAt: 1_010,
        iteration: 0,
      },
      {
        taskId: post.id,
        guildId: 'g2',
        name: 'post',
        kind: 'reminder',
        scheduledAt: 2_000,
        startedAt: 2_050,
        iteration: 3,
      },
    ]);
    conn.close();
  });
});

describe('quarantine', () => {
  const tempDbPath = useTempDir();

  it('fails the one task in flight with what happened and what to do, and keeps its intent', () => {
    const { conn, spin, idle, intent } = withTasks();
    intent.run(spin.id, 1_000, 1_010, 0);
    const runs = readRunsInFlight(conn.sqlite);
    expect(quarantine(conn.sqlite, runs, 30_000, 5_000)).toBe(1);
    const row = conn.sqlite.prepare(
      'SELECT state, last_error, next_run_at, updated_at FROM tasks WHERE id = ?',
    );
    expect(row.get(spin.id)).toEqual({
      state: 'failed',
      last_error:
        'its run blocked the bot for 30 s (the bot restarted and stopped this task); fix the "busy" handler, ' +
        'then /task start spin',
      next_run_at: null,
      updated_at: 5_000,
    });
    expect(row.get(idle.id)).toMatchObject({ state: 'running', last_error: null });
    // The runtime records the run as interrupted at its next start: the intent must still be there.
    expect(readRunsInFlight(conn.sqlite)).toHaveLength(1);
    conn.close();
  });

  it('says plainly when several runs were in flight and it cannot tell which one blocked', () => {
    const { conn, spin, post, intent } = withTasks();
    intent.run(spin.id, 1_000, 1_010, 0);
    intent.run(post.id, 1_000, 1_020, 0);
    const runs = readRunsInFlight(conn.sqlite);
    expect(quarantine(conn.sqlite, runs, 2_500, 5_000)).toBe(2);
    expect(conn.sqlite.prepare('SELECT last_error FROM tasks WHERE id = ?').pluck().get(spin.id)).toBe(
      'its run was in flight, with post, when one of them blocked the bot for 2.5 s (the bot restarted and ' +
        'stopped them all, as it cannot tell which); fix that handler, then /task start each',
    );
    conn.close();
  });

  it('leaves a task that is no longer running as it is', () => {
    const { conn, spin, intent } = withTasks();
    intent.run(spin.id, 1_000, 1_010, 0);
    conn.sqlite.prepare("UPDATE tasks SET state = 'stopped' WHERE id = ?").run(spin.id);
    expect(quarantine(conn.sqlite, readRunsInFlight(conn.sqlite), 30_000, 5_000)).toBe(0);
    expect(conn.sqlite.prepare('SELECT state FROM tasks WHERE id = ?').pluck().get(spin.id)).toBe('stopped');
    conn.close();
  });

  it('gives up on a database locked by a write transaction after its busy timeout', () => {
    const path = tempDbPath();
    const setup = openDatabase(path);
    const task = insertTask(setup.db, taskValues({ state: 'running' }));
    setup.sqlite
      .prepare('INSERT INTO run_intents (task_id, scheduled_at, started_at, iteration) VALUES (?, 1, 1, 0)')
      .run(task.id);
    setup.sqlite.exec('BEGIN IMMEDIATE'); // the stalled main thread, inside a transaction
    const watchdog = openDatabase(path);
    watchdog.sqlite.pragma('busy_timeout = 50');
    const runs = readRunsInFlight(watchdog.sqlite); // WAL: reading is never blocked by the writer
    expect(runs).toHaveLength(1);
    expect(() => quarantine(watchdog.sqlite, runs, 30_000, 5_000)).toThrow(/locked/);
    setup.sqlite.exec('ROLLBACK');
    watchdog.close();
    setup.close();
  });
});

it('formats seconds for people', () => {
  expect(formatSeconds(30_120)).toBe('30 s');
  expect(formatSeconds(2_540)).toBe('2.5 s');
  expect(formatSeconds(500)).toBe('0.5 s');
});
