// Seeding for the benches: `count` running tasks inserted in one SQL statement (no JavaScript garbage left
// behind), each column an SQL expression of the row number `i` and the named parameters. The benches differ
// only in those expressions; the column list and the constant columns live here once.
import type Sqlite from 'better-sqlite3';

export interface SeedColumns {
  guildId: string;
  schedule: string;
  lastRunAt: string;
  nextRunAt: string;
  /** Default `'noop'`. */
  kind?: string;
  /** Default 5. */
  currentLoop?: string;
  /** Default `seq` (the row numbers); a join may add columns for the expressions. */
  from?: string;
}

/** Inserts `count` running tasks (`task-<i>`); `params` fills the expressions' named parameters. */
export function seedRunningTasks(
  sqlite: Sqlite.Database,
  count: number,
  columns: SeedColumns,
  params: Record<string, string | number> = {},
): void {
  sqlite
    .prepare(
      `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < @count - 1)
       INSERT INTO tasks (guild_id, name, kind, options, schedule, count, catch_up, state, current_loop,
                          last_run_at, next_run_at, timeout_ms, channel_id, created_by, created_at, updated_at)
       SELECT ${columns.guildId}, 'task-' || i, ${columns.kind ?? "'noop'"}, '{}', ${columns.schedule}, NULL,
              'skip', 'running', ${columns.currentLoop ?? '5'}, ${columns.lastRunAt}, ${columns.nextRunAt}, 60000,
              'channel', 'bench', @now, @now
       FROM ${columns.from ?? 'seq'}`,
    )
    .run({ now: Date.now(), ...params, count });
}
