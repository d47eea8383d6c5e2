import type { Statement } from 'better-sqlite3';
import {
  and,
  asc,
  desc,
  eq,
  getTableColumns,
  gt,
  is,
  like,
  lt,
  Param,
  Placeholder,
  type SQL,
  type SQLWrapper,
  sql,
} from 'drizzle-orm';
import type { Db } from './connection.js';
import type { TaskSchedule } from './schedule.js';
import {
  type CounterState,
  counterState,
  handlerState,
  type LeaderboardState,
  leaderboardState,
  meta,
  type NewTask,
  type RunIntent,
  type RunOutcome,
  runIntents,
  type Task,
  type TaskRun,
  taskRuns,
  tasks,
} from './schema.js';

// Every query Metronome makes lives here, as a named function over the drizzle handle. Callers pass `now`
// where a time is written, so fake clocks in tests reach the database too.

/** How many runs each task keeps; older ones are pruned as new ones are appended. */
export const RUNS_KEPT_PER_TASK = 100;

/**
 * A task's history is pruned with every run that leaves its count where it was (an error, a retry, a missed
 * slot), and with every RUNS_PRUNED_EVERY-th that moves it on (the first after a restart from zero among
 * them): a prune walks a hundred index entries, a fire's largest cost after its writes. So a task holds at
 * most RUNS_KEPT_PER_TASK + RUNS_PRUNED_EVERY - 1 runs.
 */
export const RUNS_PRUNED_EVERY = 8;

/** Runs `fn` in one SQLite transaction (a savepoint when nested). Store functions called inside join it. */
export function inTransaction<T>(db: Db, fn: () => T): T {
  return db.$client.transaction(fn)();
}

/** Builds something from a database handle once per handle: the prepared statements of hot paths. */
export function perDb<T>(make: (db: Db) => T): (db: Db) => T {
  const built = new WeakMap<Db, T>();
  return (db) => {
    let value = built.get(db);
    if (value === undefined) {
      value = make(db);
      built.set(db, value);
    }
    return value;
  };
}

// ---------------------------------------------------------------- tasks

/** Columns a caller may change on an existing task; `updatedAt` is required so every change is dated. */
export type TaskPatch = Partial<Omit<NewTask, 'id' | 'guildId' | 'createdAt' | 'createdBy'>> & {
  updatedAt: number;
};

/** Inserts a task. Throws on a duplicate (guild, name): check with getTask first to tell the user. */
export function insertTask(db: Db, values: NewTask): Task {
  return db.insert(tasks).values(values).returning().get();
}

export function getTask(db: Db, guildId: string, name: string): Task | undefined {
  return db
    .select()
    .from(tasks)
    .where(and(eq(tasks.guildId, guildId), eq(tasks.name, name)))
    .get();
}

/** The task with this id (any guild): for the runtime, which holds ids it got from guild-scoped calls. */
export function getTaskById(db: Db, id: number): Task | undefined {
  const row = hot(db).taskById.get(id) as TaskRow | undefined;
  return row === undefined ? undefined : taskFromRow(row);
}

/**
 * The tasks with these ids, in order (undefined where none is left), read in one transaction: one read lock
 * for all of them instead of one per row, for the runtime's wakes of many tasks at once.
 */
export function getTasksByIds(db: Db, ids: readonly number[]): (Task | undefined)[] {
  return readTasks(db)(ids);
}

const readTasks = perDb((db) =>
  db.$client.transaction((ids: readonly number[]) => ids.map((id) => getTaskById(db, id))),
);

/** The guild's tasks, by name. */
export function listTasks(db: Db, guildId: string): Task[] {
  return db.select().from(tasks).where(eq(tasks.guildId, guildId)).orderBy(asc(tasks.name)).all();
}

/** The columns that decide when a task runs and what its progress is: all the runtime keeps in memory. */
export type TaskTiming = Pick<
  Task,
  | 'id'
  | 'kind'
  | 'schedule'
  | 'count'
  | 'catchUp'
  | 'currentLoop'
  | 'lastRunAt'
  | 'nextRunAt'
  | 'lastError'
  | 'timeoutMs'
>;

const timingColumns = {
  id: tasks.id,
  kind: tasks.kind,
  schedule: tasks.schedule,
  count: tasks.count,
  catchUp: tasks.catchUp,
  currentLoop: tasks.currentLoop,
  lastRunAt: tasks.lastRunAt,
  nextRunAt: tasks.nextRunAt,
  lastError: tasks.lastError,
  timeoutMs: tasks.timeoutMs,
};

type TimingRow = [
  number,
  string,
  string,
  number | null,
  Task['catchUp'],
  number,
  number | null,
  number | null,
  string | null,
  number,
];

/** A slice of a listing in id order: the rows after `afterId`, at most `limit` of them. */
export interface IdPage {
  afterId: number;
  limit: number;
}

/**
 * The timing of every running task (or of one page of them, in id order; only those whose servers are on
 * `shards` when given): what start-up resumes. drizzle writes the SQL from the schema, but the rows are read
 * as arrays and mapped here: at 100,000 rows drizzle's per-column mapping costs as much as SQLite itself, and
 * parsing each distinct schedule once lets tasks share it (frozen). Start-up reads pages: all 100,000 rows in
 * one array cost ~40 MB of RSS that stayed after.
 */
export function listRunningTaskTimings(db: Db, page?: IdPage, shards?: GuildShards): TaskTiming[] {
  const statements = timingStatements(db);
  let rows: TimingRow[];
  if (shards === undefined) {
    rows = (
      page ? statements.page.values({ afterId: page.afterId, limit: page.limit }) : statements.all.values()
    ) as TimingRow[];
  } else {
    const scope = { shardCount: shards.count, shardIds: JSON.stringify(shards.ids) };
    rows = (
      page
        ? statements.shardPage.values({ afterId: page.afterId, limit: page.limit, ...scope })
        : statements.shardAll.values(scope)
    ) as TimingRow[];
  }
  const schedules = new Map<string, TaskSchedule>();
  // Kinds are few: one string each instead of a copy per row.
  const kinds = new Map<string, string>();
  return rows.map(
    ([id, rowKind, json, count, catchUp, currentLoop, lastRunAt, nextRunAt, lastError, timeoutMs]) => {
      let kind = kinds.get(rowKind);
      if (kind === undefined) {
        kind = rowKind;
        kinds.set(kind, kind);
      }
      let schedule = schedules.get(json);
      if (schedule === undefined) {
        schedule = Object.freeze(JSON.parse(json) as TaskSchedule);
        schedules.set(json, schedule);
      }
      return { id, kind, schedule, count, catchUp, currentLoop, lastRunAt, nextRunAt, lastError, timeoutMs };
    },
  );
}

// Prepared once per handle (re-preparing the page's statement for each of 100 pages cost ~100 ms of a restore),
// and read with values(): arrays as the driver gives them, mapped above.
const timingStatements = perDb((db) => {
  const running = eq(tasks.state, 'running');
  const after = gt(tasks.id, sql.placeholder('afterId'));
  const inShards = guildInShards(sql.placeholder('shardCount'), sql.placeholder('shardIds'));
  return {
    all: db.select(timingColumns).from(tasks).where(running).orderBy(asc(tasks.id)).prepare(),
    page: db
      .select(timingColumns)
      .from(tasks)
      .where(and(running, after))
      .orderBy(asc(tasks.id))
      .limit(sql.placeholder('limit'))
      .prepare(),
    shardAll: db
      .select(timingColumns)
      .from(tasks)
      .where(and(running, inShards))
      .orderBy(asc(tasks.id))
      .prepare(),
    shardPage: db
      .select(timingColumns)
      .from(tasks)
      .where(and(running, after, inShards))
      .orderBy(asc(tasks.id))
      .limit(sql.placeholder('limit'))
      .prepare(),
  };
});

/** Some of the bot's shards, of `count` in all: a ShardScope (src/tasks/shard-scope.ts) as queries take it. */
export interface GuildShards {
  count: number;
  ids: readonly number[];
}

/**
 * Whether a task's server is on one of the shards: Discord's `(guild_id >> 22) % count`, in SQLite's 64-bit
 * integers, exact for every snowflake below 2^63 (Discord's ids reach it in 2084); `ids` is a JSON array.
 */
function guildInShards(count: SQLWrapper, ids: SQLWrapper): SQL {
  return sql`((CAST(${tasks.guildId} AS INTEGER) >> 22) % ${count}) IN (SELECT value FROM json_each(${ids}))`;
}

export function countTasks(db: Db, guildId: string): number {
  const row = db.select({ n: sql<number>`count(*)` }).from(tasks).where(eq(tasks.guildId, guildId)).get();
  return row?.n ?? 0;
}

/** Applies `patch` to the task and returns the new row, or undefined when no such task exists. */
export function updateTask(db: Db, id: number, patch: TaskPatch): Task | undefined {
  return db.update(tasks).set(patch).where(eq(tasks.id, id)).returning().get();
}

/** Deletes the guild's task (its runs and handler state cascade). Returns whether a row was deleted. */
export function deleteTask(db: Db, guildId: string, name: string): boolean {
  const result = db
    .delete(tasks)
    .where(and(eq(tasks.guildId, guildId), eq(tasks.name, name)))
    .run();
  return result.changes > 0;
}

// ---------------------------------------------------------------- runs

/** The tasks table's columns in select order, as the raw statement below returns them. */
type TaskRow = [
  number,
  string,
  string,
  string,
  string,
  string,
  number | null,
  Task['catchUp'],
  Task['state'],
  number,
  number | null,
  number | null,
  string | null,
  number,
  string,
  string,
  number,
  number,
];

/** A row of the tasks table as drizzle would map it (its JSON columns parsed), without drizzle's per-column work. */
function taskFromRow(row: TaskRow): Task {
  const [
    id,
    guildId,
    name,
    kind,
    options,
    schedule,
    count,
    catchUp,
    state,
    currentLoop,
    lastRunAt,
    nextRunAt,
    lastError,
    timeoutMs,
    channelId,
    createdBy,
    createdAt,
    updatedAt,
  ] = row;
  return {
    id,
    guildId,
    name,
    kind,
    options: JSON.parse(options) as Record<string, unknown>,
    schedule: JSON.parse(schedule) as TaskSchedule,
    count,
    catchUp,
    state,
    currentLoop,
    lastRunAt,
    nextRunAt,
    lastError,
    timeoutMs,
    channelId,
    createdBy,
    createdAt,
    updatedAt,
  };
}

const TASK_COLUMN_ORDER = [
  'id',
  'guildId',
  'name',
  'kind',
  'options',
  'schedule',
  'count',
  'catchUp',
  'state',
  'currentLoop',
  'lastRunAt',
  'nextRunAt',
  'lastError',
  'timeoutMs',
  'channelId',
  'createdBy',
  'createdAt',
  'updatedAt',
] as const satisfies readonly (keyof Task)[];

function prepareTaskById(db: Db) {
  const columns = getTableColumns(tasks);
  // Selected in TaskRow's order, whatever order the schema lists them in.
  const selected = Object.fromEntries(TASK_COLUMN_ORDER.map((key) => [key, columns[key]]));
  const query = db
    .select(selected)
    .from(tasks)
    .where(eq(tasks.id, sql.placeholder('id')));
  return rawStatement(db, query, ['id']).raw();
}

/**
 * A drizzle query as a raw better-sqlite3 statement: the hot paths (a row read per fire, five writes per fire)
 * skip drizzle's per-call placeholder filling and row mapping, about a fifth of a fire's CPU. drizzle still
 * writes the SQL from the schema. Its placeholders become positional (`?`): better-sqlite3 binds arguments
 * directly, where a named parameter costs a property lookup through V8's API each. `order` names them as the
 * SQL uses them (a name may repeat), which is the order the call site passes its arguments in; preparing
 * throws if drizzle wrote them otherwise, so a call site and its SQL cannot drift apart unseen.
 */
function rawStatement(
  db: Db,
  query: { toSQL(): { sql: string; params: unknown[] } },
  order: readonly string[],
): Statement {
  const { sql: text, params } = query.toSQL();
  let index = 0;
  const used: string[] = [];
  const positional = text.replace(/\?/g, () => {
    let param = params[index++];
    // An insert's values come wrapped with their column, whose encoder for these integer and text columns is
    // the identity.
    if (is(param, Param)) param = param.value;
    if (is(param, Placeholder)) {
      used.push(param.name);
      return '?';
    }
    // Constants (a LIMIT, an OFFSET) are numbers drizzle passes as parameters: written into the SQL instead.
    if (typeof param === 'number' && Number.isSafeInteger(param)) return String(param);
    throw new TypeError(`a hot statement takes only placeholders and integers, got ${String(param)}`);
  });
  if (used.join() !== order.join()) {
    throw new TypeError(
      `a hot statement takes (${used.join(', ')}), not (${order.join(', ')}): ${positional}`,
    );
  }
  return db.$client.prepare(positional);
}

function prepareInsertRun(db: Db) {
  const query = db.insert(taskRuns).values({
    taskId: sql.placeholder('taskId'),
    scheduledAt: sql.placeholder('scheduledAt'),
    startedAt: sql.placeholder('startedAt'),
    finishedAt: sql.placeholder('finishedAt'),
    outcome: sql.placeholder('outcome'),
    error: sql.placeholder('error'),
  });
  return rawStatement(db, query, ['taskId', 'scheduledAt', 'startedAt', 'finishedAt', 'outcome', 'error']);
}

// Deletes what lies below the task's 100th newest run: one seek on (task_id, id), so it stays cheap.
function preparePruneRuns(db: Db) {
  const cutoff = db
    .select({ id: taskRuns.id })
    .from(taskRuns)
    .where(eq(taskRuns.taskId, sql.placeholder('taskId')))
    .orderBy(desc(taskRuns.id))
    .limit(1)
    .offset(RUNS_KEPT_PER_TASK - 1);
  const query = db
    .delete(taskRuns)
    .where(and(eq(taskRuns.taskId, sql.placeholder('taskId')), lt(taskRuns.id, sql`(${cutoff})`)));
  return rawStatement(db, query, ['taskId', 'taskId']);
}

function prepareSaveProgress(db: Db) {
  const query = db
    .update(tasks)
    .set({
      currentLoop: sql`${sql.placeholder('currentLoop')}`,
      // null keeps what is stored: a record that is not a success leaves the last success and error as they
      // were, without reading the row, which may be stale while earlier records wait to be written.
      lastRunAt: sql`coalesce(${sql.placeholder('lastRunAt')}, ${tasks.lastRunAt})`,
      nextRunAt: sql`${sql.placeholder('nextRunAt')}`,
      lastError: sql`coalesce(${sql.placeholder('lastError')}, ${tasks.lastError})`,
      // A record's progress is dated by when its run finished.
      updatedAt: sql`${sql.placeholder('finishedAt')}`,
    })
    .where(eq(tasks.id, sql.placeholder('taskId')));
  return rawStatement(db, query, [
    'currentLoop',
    'lastRunAt',
    'nextRunAt',
    'lastError',
    'finishedAt',
    'taskId',
  ]);
}

function prepareSetNextRun(db: Db) {
  const query = db
    .update(tasks)
    .set({
      nextRunAt: sql`${sql.placeholder('nextRunAt')}`,
      updatedAt: sql`${sql.placeholder('updatedAt')}`,
    })
    .where(eq(tasks.id, sql.placeholder('id')));
  return rawStatement(db, query, ['nextRunAt', 'updatedAt', 'id']);
}

// Written through tasks, so an intent of a task deleted meanwhile is no row rather than a foreign-key error
// that would roll back the whole tick's batch. A retry of the same slot keeps the first attempt's start.
function prepareWriteIntent(db: Db) {
  const query = db
    .insert(runIntents)
    .select(
      db
        .select({
          taskId: tasks.id,
          scheduledAt: sql`${sql.placeholder('scheduledAt')}`.as('scheduled_at'),
          startedAt: sql`${sql.placeholder('startedAt')}`.as('started_at'),
          iteration: sql`${sql.placeholder('iteration')}`.as('iteration'),
        })
        .from(tasks)
        .where(eq(tasks.id, sql.placeholder('taskId'))),
    )
    .onConflictDoUpdate({
      target: runIntents.taskId,
      set: {
        scheduledAt: sql`excluded.scheduled_at`,
        startedAt: sql`CASE WHEN ${runIntents.scheduledAt} = excluded.scheduled_at THEN ${runIntents.startedAt} ELSE excluded.started_at END`,
        iteration: sql`excluded.iteration`,
      },
    });
  return rawStatement(db, query, ['scheduledAt', 'startedAt', 'iteration', 'taskId']);
}

// Only the intent of the record's own slot: a newer slot's intent may already stand in its place.
function prepareClearIntent(db: Db) {
  const query = db
    .delete(runIntents)
    .where(
      and(
        eq(runIntents.taskId, sql.placeholder('taskId')),
        eq(runIntents.scheduledAt, sql.placeholder('scheduledAt')),
      ),
    );
  return rawStatement(db, query, ['taskId', 'scheduledAt']);
}

const hot = perDb((db) => ({
  taskById: prepareTaskById(db),
  insertRun: prepareInsertRun(db),
  pruneRuns: preparePruneRuns(db),
  saveProgress: prepareSaveProgress(db),
  setNextRun: prepareSetNextRun(db),
  writeIntent: prepareWriteIntent(db),
  clearIntent: prepareClearIntent(db),
}));

/** One finished iteration: its run row and the task's progress after it, flat (one object per run). */
export interface IterationRecord {
  taskId: number;
  scheduledAt: number;
  startedAt: number;
  finishedAt: number;
  outcome: RunOutcome;
  error: string | null;
  currentLoop: number;
  /** The slot of this run if it succeeded; null keeps the stored value. */
  lastRunAt: number | null;
  nextRunAt: number | null;
  /** This run's error; null keeps the stored value. */
  lastError: string | null;
  /**
   * Whether the slot is settled, so its run intent is deleted with this record. False for an attempt that
   * will be retried: the intent stays, since the slot is still in flight.
   */
  settlesSlot: boolean;
}

/**
 * Records a batch of finished iterations in one transaction: the runtime gathers those of one tick, so
 * thousands of fires cost one commit. Each record writes its run, prunes the task's history (see
 * RUNS_PRUNED_EVERY), saves its progress (updated_at = finishedAt) and, when it settles its slot, deletes the
 * slot's run intent. Records of tasks deleted meanwhile are skipped.
 */
export function recordIterations(db: Db, records: readonly IterationRecord[]): void {
  const { insertRun, pruneRuns, saveProgress, clearIntent } = hot(db);
  inTransaction(db, () => {
    for (const record of records) {
      const { taskId, scheduledAt, currentLoop, finishedAt } = record;
      const saved = saveProgress.run(
        currentLoop,
        record.lastRunAt,
        record.nextRunAt,
        record.lastError,
        finishedAt,
        taskId,
      );
      if (saved.changes === 0) continue;
      insertRun.run(taskId, scheduledAt, record.startedAt, finishedAt, record.outcome, record.error);
      if (record.lastRunAt === null || currentLoop % RUNS_PRUNED_EVERY === 1) pruneRuns.run(taskId, taskId);
      if (record.settlesSlot) clearIntent.run(taskId, scheduledAt);
    }
  });
}

// ---------------------------------------------------------------- run intents

/**
 * Commits, in one transaction, that each of these attempts has started (the write-ahead half of the run
 * journal; the record that settles the slot deletes it). One row per task: a new slot replaces the last
 * one's row, a retry of the same slot keeps its first start. Intents of tasks deleted meanwhile write nothing.
 */
export function writeRunIntents(db: Db, intents: readonly RunIntent[]): void {
  const { writeIntent } = hot(db);
  inTransaction(db, () => {
    for (const { taskId, scheduledAt, startedAt, iteration } of intents) {
      writeIntent.run(scheduledAt, startedAt, iteration, taskId);
    }
  });
}

/**
 * Every run intent (attempts that started and were not settled, which start-up finds after a crash), or only
 * those of tasks whose servers are on `shards`.
 */
export function listRunIntents(db: Db, shards?: GuildShards): RunIntent[] {
  if (shards === undefined) return db.select().from(runIntents).orderBy(asc(runIntents.taskId)).all();
  return db
    .select(getTableColumns(runIntents))
    .from(runIntents)
    .innerJoin(tasks, eq(tasks.id, runIntents.taskId))
    .where(guildInShards(sql`${shards.count}`, sql`${JSON.stringify(shards.ids)}`))
    .orderBy(asc(runIntents.taskId))
    .all();
}

/** Deletes the task's run intent, whatever its slot (a restart from zero disowns the old run's attempt). */
export function clearRunIntent(db: Db, taskId: number): void {
  db.delete(runIntents).where(eq(runIntents.taskId, taskId)).run();
}

/** Sets the next run instant of many tasks in one transaction (start-up writes one per resumed task). */
export function setNextRuns(
  db: Db,
  entries: readonly { id: number; nextRunAt: number | null }[],
  updatedAt: number,
): void {
  const { setNextRun } = hot(db);
  inTransaction(db, () => {
    for (const { id, nextRunAt } of entries) setNextRun.run(nextRunAt, updatedAt, id);
  });
}

/** The task's newest runs, newest first. */
export function lastRuns(db: Db, taskId: number, limit = 10): TaskRun[] {
  return db
    .select()
    .from(taskRuns)
    .where(eq(taskRuns.taskId, taskId))
    .orderBy(desc(taskRuns.id))
    .limit(limit)
    .all();
}

// ---------------------------------------------------------------- handler state

/** The value a handler stored under `key` for its task, or undefined. */
export function getHandlerState(db: Db, taskId: number, key: string): unknown {
  const row = db
    .select({ value: handlerState.value })
    .from(handlerState)
    .where(and(eq(handlerState.taskId, taskId), eq(handlerState.key, key)))
    .get();
  return row?.value;
}

/** Stores a JSON-serialisable value under `key` for the task, replacing any previous one. */
export function setHandlerState(db: Db, taskId: number, key: string, value: unknown): void {
  db.insert(handlerState)
    .values({ taskId, key, value })
    .onConflictDoUpdate({ target: [handlerState.taskId, handlerState.key], set: { value } })
    .run();
}

export function deleteHandlerState(db: Db, taskId: number, key: string): void {
  db.delete(handlerState)
    .where(and(eq(handlerState.taskId, taskId), eq(handlerState.key, key)))
    .run();
}

export function getCounterState(db: Db, taskId: number): CounterState | undefined {
  return db.select().from(counterState).where(eq(counterState.taskId, taskId)).get();
}

/** Upserts the counter's state; omitted columns keep their stored value. */
export function saveCounterState(db: Db, state: Partial<CounterState> & { taskId: number }): void {
  const { taskId, ...changes } = state;
  const insert = db.insert(counterState).values(state);
  if (Object.keys(changes).length === 0) insert.onConflictDoNothing().run();
  else insert.onConflictDoUpdate({ target: counterState.taskId, set: changes }).run();
}

export function getLeaderboardState(db: Db, taskId: number): LeaderboardState | undefined {
  return db.select().from(leaderboardState).where(eq(leaderboardState.taskId, taskId)).get();
}

/** Upserts the leaderboard's state; omitted columns keep their stored value. */
export function saveLeaderboardState(db: Db, state: Partial<LeaderboardState> & { taskId: number }): void {
  const { taskId, ...changes } = state;
  const insert = db.insert(leaderboardState).values(state);
  if (Object.keys(changes).length === 0) insert.onConflictDoNothing().run();
  else insert.onConflictDoUpdate({ target: leaderboardState.taskId, set: changes }).run();
}

// ---------------------------------------------------------------- meta

export function getMeta(db: Db, key: string): string | undefined {
  return db.select({ value: meta.value }).from(meta).where(eq(meta.key, key)).get()?.value;
}

export function setMeta(db: Db, key: string, value: string): void {
  db.insert(meta).values({ key, value }).onConflictDoUpdate({ target: meta.key, set: { value } }).run();
}

/** Every meta key starting with `prefix`, sorted (the command-sync hashes, one key per scope). */
export function metaKeysStartingWith(db: Db, prefix: string): string[] {
  // LIKE only narrows the scan (`_` and `%` in the prefix would widen it); startsWith is the exact test.
  return db
    .select({ key: meta.key })
    .from(meta)
    .where(like(meta.key, `${prefix}%`))
    .all()
    .map((row) => row.key)
    .filter((key) => key.startsWith(prefix))
    .sort();
}

export function deleteMeta(db: Db, key: string): void {
  db.delete(meta).where(eq(meta.key, key)).run();
}
