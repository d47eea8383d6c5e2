import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { TaskSchedule } from './schedule.js';

// The one description of Metronome's data. Times are integers in milliseconds since the epoch (UTC).

export const taskStates = ['running', 'stopped', 'cancelled', 'failed', 'completed'] as const;
export const catchUpPolicies = ['skip', 'once'] as const;
// interrupted: the process died during the run, so whether it posted is unknown; it counts toward `count`.
// missed: a one-off's time passed while the bot was down (catch-up skip); it did not run.
export const runOutcomes = ['ok', 'error', 'retried', 'cancelled', 'interrupted', 'missed'] as const;

export const tasks = sqliteTable(
  'tasks',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    guildId: text('guild_id').notNull(),
    // Unique per guild; the pattern [a-z0-9][a-z0-9_-]{0,31} is checked in code (src/tasks).
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    options: text('options', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default({}),
    schedule: text('schedule', { mode: 'json' }).$type<TaskSchedule>().notNull(),
    // null = forever
    count: integer('count'),
    catchUp: text('catch_up', { enum: catchUpPolicies }).notNull().default('skip'),
    state: text('state', { enum: taskStates }).notNull().default('stopped'),
    // Iterations completed so far; survives restarts so `count` continues where it stopped.
    currentLoop: integer('current_loop').notNull().default(0),
    // Scheduled instant of the last finished iteration (the slot, not the wall-clock start).
    lastRunAt: integer('last_run_at'),
    nextRunAt: integer('next_run_at'),
    lastError: text('last_error'),
    timeoutMs: integer('timeout_ms').notNull().default(60_000),
    channelId: text('channel_id').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('tasks_guild_name_unique').on(t.guildId, t.name), index('tasks_state_idx').on(t.state)],
);

export const taskRuns = sqliteTable(
  'task_runs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    taskId: integer('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    scheduledAt: integer('scheduled_at').notNull(),
    startedAt: integer('started_at').notNull(),
    finishedAt: integer('finished_at').notNull(),
    outcome: text('outcome', { enum: runOutcomes }).notNull(),
    error: text('error'),
  },
  // Serves "last runs of a task" and the prune-on-insert, which both walk one task's newest ids.
  (t) => [index('task_runs_task_id_idx').on(t.taskId, t.id)],
);

// The write-ahead record of a run in flight ("task T, slot S, started"): committed before the handler is
// called, deleted in the same transaction as the run's record. A row found at start-up is a run the process
// died during. At most one per task: a task's slots never overlap.
export const runIntents = sqliteTable('run_intents', {
  taskId: integer('task_id')
    .primaryKey()
    .references(() => tasks.id, { onDelete: 'cascade' }),
  scheduledAt: integer('scheduled_at').notNull(),
  // The first attempt's start: the retry window of the slot is measured from it.
  startedAt: integer('started_at').notNull(),
  iteration: integer('iteration').notNull(),
});

export const counterState = sqliteTable('counter_state', {
  taskId: integer('task_id')
    .primaryKey()
    .references(() => tasks.id, { onDelete: 'cascade' }),
  renderedText: text('rendered_text'),
  messageId: text('message_id'),
  // Instants (ms) of recent channel renames, for Discord's 2-per-10-minutes limit.
  renameTimes: text('rename_times', { mode: 'json' }).$type<number[]>().notNull().default([]),
  // Text waiting for the rename window to reopen.
  pendingText: text('pending_text'),
});

export const leaderboardState = sqliteTable('leaderboard_state', {
  taskId: integer('task_id')
    .primaryKey()
    .references(() => tasks.id, { onDelete: 'cascade' }),
  channelId: text('channel_id'),
  messageId: text('message_id'),
});

export const messageCounts = sqliteTable(
  'message_counts',
  {
    guildId: text('guild_id').notNull(),
    userId: text('user_id').notNull(),
    // UTC day, 'YYYY-MM-DD'
    day: text('day').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.guildId, t.userId, t.day] }),
    // Leaderboards sum one guild over a range of days.
    index('message_counts_guild_day_idx').on(t.guildId, t.day),
  ],
);

// All-time messages per member, kept beside the daily rows (incremented with them, in one transaction) so
// daily rows older than the longest rolling period can be pruned without losing the all-time board.
export const messageTotals = sqliteTable(
  'message_totals',
  {
    guildId: text('guild_id').notNull(),
    userId: text('user_id').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.guildId, t.userId] })],
);

export const membersSeen = sqliteTable(
  'members_seen',
  {
    guildId: text('guild_id').notNull(),
    userId: text('user_id').notNull(),
    displayName: text('display_name').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.guildId, t.userId] })],
);

export const handlerState = sqliteTable(
  'handler_state',
  {
    taskId: integer('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value', { mode: 'json' }).$type<unknown>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.taskId, t.key] })],
);

// A server's own settings, one row per guild once an admin sets something; no row means the defaults.
export const guildSettings = sqliteTable('guild_settings', {
  guildId: text('guild_id').primaryKey(),
  // IANA name; tasks created without `timezone` take it (null = UTC).
  timeZone: text('time_zone'),
  updatedAt: integer('updated_at').notNull(),
  updatedBy: text('updated_by').notNull(),
});

export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

export type Task = typeof tasks.$inferSelect;
export type NewTask = typeof tasks.$inferInsert;
export type TaskRun = typeof taskRuns.$inferSelect;
export type NewTaskRun = typeof taskRuns.$inferInsert;
export type TaskState = (typeof taskStates)[number];
export type CatchUpPolicy = (typeof catchUpPolicies)[number];
export type RunIntent = typeof runIntents.$inferSelect;
export type RunOutcome = (typeof runOutcomes)[number];
export type CounterState = typeof counterState.$inferSelect;
export type LeaderboardState = typeof leaderboardState.$inferSelect;
export type GuildSettings = typeof guildSettings.$inferSelect;
