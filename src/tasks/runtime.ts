import { pino } from 'pino';
import { retryWhileBusy } from '../db/busy.js';
import {
  countTasks,
  type Db,
  deleteTask,
  getTask,
  getTaskById,
  insertTask,
  inTransaction,
  lastRuns,
  listTasks,
  type NewTask,
  type Task,
  type TaskRun,
  type TaskSchedule,
  updateTask,
} from '../db/index.js';
import type { Logger } from '../log.js';
import { firstDueAt, type Schedule } from '../loop/index.js';
import type { Activation } from './activation.js';
import type { TaskExecutor } from './attempt.js';
import { checkedTaskRow, DEFAULT_TIMEOUT_MS, resumeDueAt, type TaskDefinition } from './definition.js';
import {
  describeEdit,
  type EditChecks,
  planEdit,
  stateAfterCount,
  type TaskChanges,
  type TaskEdited,
} from './edit.js';
import { TaskError } from './errors.js';
import { RuntimeEvents } from './events.js';
import { errorText, RunJournal } from './journal.js';
import { KeyedLock } from './keyed-lock.js';
import { Resumer, type ResumeSummary } from './resume.js';
import { checkSchedule, storedEngineSchedule, toLoopOptions } from './schedule.js';
import {
  checkShardScope,
  coversAllShards,
  describeScope,
  type ShardScope,
  shardOfGuild,
} from './shard-scope.js';
import { TaskLoops } from './task-loops.js';

export type { ResumeSummary } from './resume.js';
export { KEEP_LOOP_MS } from './task-loops.js';

// The TaskRuntime turns stored task definitions into running Loops and keeps the rows in step with them: this
// file holds its commands. The rule that makes restarts safe here: a state change is committed before the Loop
// is touched. The tasks it runs, live or parked, are task-loops.ts (a parked task's wake: waking.ts; what their
// Loops report: iterations.ts); start-up recovery is resume.ts; the run journal (journal.ts) writes the
// attempts' starts and the records, each batched per tick.

/** How long shutdown() waits for iterations in flight before aborting them. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

export interface TaskRuntimeOptions {
  db: Db;
  execute: TaskExecutor;
  log?: Logger;
  /** Most tasks one server may have (default 100), so one server cannot take the whole bot. */
  maxTasksPerGuild?: number;
  /**
   * The shortest interval (and cron gap) a new schedule may have; default MIN_INTERVAL_SECONDS (10), as /task
   * refuses. Only tests and benchmarks that need fast tasks lower it; the bot never does.
   */
  minIntervalSeconds?: number;
  /**
   * The gateway shards this process holds, when the bot's shards run in several processes on one database:
   * the runtime then resumes, recovers and takes commands for the tasks of those shards' servers only, and
   * leaves every other task to the process that holds its shard. Default: every server.
   */
  shards?: ShardScope;
}

export const DEFAULT_MAX_TASKS_PER_GUILD = 100;

export interface TaskInfo {
  task: Task;
  /** Newest first. */
  runs: TaskRun[];
}

export class TaskRuntime {
  readonly #db: Db;
  readonly #log: Logger;
  readonly #maxTasksPerGuild: number;
  readonly #minIntervalSeconds: number | undefined;
  /** Undefined when this process runs every server's tasks (no scope, or one that holds every shard). */
  readonly #shards: ShardScope | undefined;
  /** The tasks this process runs, live or parked, and the callbacks of their Loops. */
  readonly #loops: TaskLoops;
  /** Start-up recovery, and the next runs it writes after it. */
  readonly #resumer: Resumer;
  /** Serializes commands on one task, keyed by (guild, name). */
  readonly #locks = new KeyedLock<string>();
  readonly #journal: RunJournal;
  /** Each recorded run and each journal write, for metrics: see events.ts. */
  readonly events = new RuntimeEvents();

  constructor(options: TaskRuntimeOptions) {
    this.#db = options.db;
    this.#log = options.log ?? pino({ level: 'silent' });
    this.#journal = new RunJournal(this.#db, this.#log, this.events);
    this.#maxTasksPerGuild = options.maxTasksPerGuild ?? DEFAULT_MAX_TASKS_PER_GUILD;
    this.#minIntervalSeconds = options.minIntervalSeconds;
    if (!Number.isSafeInteger(this.#maxTasksPerGuild) || this.#maxTasksPerGuild < 1) {
      throw new RangeError(`maxTasksPerGuild must be a positive integer, got ${this.#maxTasksPerGuild}`);
    }
    if (options.shards !== undefined) checkShardScope(options.shards);
    this.#shards =
      options.shards === undefined || coversAllShards(options.shards)
        ? undefined
        : { count: options.shards.count, ids: [...options.shards.ids] };
    const deps = { db: this.#db, log: this.#log, journal: this.#journal };
    this.#loops = new TaskLoops({ ...deps, execute: options.execute, events: this.events });
    this.#resumer = new Resumer({ ...deps, shards: this.#shards }, this.#loops);
  }

  // ------------------------------------------------------------------------------------------------------
  // Commands (all guild-scoped)

  /** Creates a task (running unless `def.start === false`) and returns its row. */
  create(guildId: string, def: TaskDefinition): Promise<Task> {
    return this.#exclusive(guildId, def.name, () => {
      const now = Date.now();
      const row = checkedTaskRow(guildId, def, now, this.#minIntervalSeconds);
      const task = inTransaction(this.#db, () => this.#insertNew(guildId, row, 0));
      this.#started([task]);
      return task;
    });
  }

  /**
   * Creates several tasks in one transaction: all of them or, if any is refused (its definition, a name
   * taken or repeated, the server's task limit), none, with a TaskError naming the task refused.
   */
  createAll(guildId: string, defs: readonly TaskDefinition[]): Promise<Task[]> {
    return this.#exclusive(guildId, '\0createAll', () => {
      const now = Date.now();
      const rows = defs.map((def) => {
        try {
          return checkedTaskRow(guildId, def, now, this.#minIntervalSeconds);
        } catch (error) {
          if (error instanceof TaskError) throw new TaskError(error.code, `${def.name}: ${error.message}`);
          throw error;
        }
      });
      const names = new Set<string>();
      for (const row of rows) {
        if (names.has(row.name))
          throw new TaskError('name_taken', `${row.name}: the name is given to more than one task.`);
        names.add(row.name);
      }
      const tasks = inTransaction(this.#db, () =>
        rows.map((row, index) => {
          try {
            return this.#insertNew(guildId, row, rows.length - 1 - index);
          } catch (error) {
            if (error instanceof TaskError) throw new TaskError(error.code, `${row.name}: ${error.message}`);
            throw error;
          }
        }),
      );
      this.#started(tasks);
      return tasks;
    });
  }

  /** Inserts a checked row, inside the caller's transaction; `alsoComing` more rows follow it in that one. */
  #insertNew(guildId: string, row: NewTask, alsoComing: number): Task {
    if (getTask(this.#db, guildId, row.name)) {
      throw new TaskError('name_taken', `This server already has a task named "${row.name}".`);
    }
    const max = this.#maxTasksPerGuild;
    if (countTasks(this.#db, guildId) + alsoComing >= max) {
      throw new TaskError(
        'limit_reached',
        `This server already has ${max} tasks, the most Metronome allows; delete one first.`,
      );
    }
    return insertTask(this.#db, row);
  }

  /** Starts the loops of tasks just inserted as running. */
  #started(tasks: readonly Task[]): void {
    for (const task of tasks) {
      if (task.state === 'running') this.#loops.runFrom(task, task.nextRunAt!, task.currentLoop);
      this.#log.info(
        { guildId: task.guildId, task: task.name, kind: task.kind, start: task.state === 'running' },
        'task created',
      );
    }
  }

  /** Starts a stopped, cancelled or failed task; its count continues from where it stopped. */
  start(guildId: string, name: string): Promise<Task> {
    return this.#exclusive(guildId, name, async () => {
      const task = this.#require(guildId, name);
      if (task.state === 'running')
        throw new TaskError('already_running', `Task "${name}" is already running.`);
      if (task.state === 'completed') {
        throw new TaskError(
          'completed',
          `Task "${name}" has completed its ${task.count} runs; use restart to run it again from zero.`,
        );
      }
      storedEngineSchedule(task); // refused now, with a sentence, rather than by the engine in #launch
      return this.#launch(task, 'continue');
    });
  }

  /**
   * Cancels the current run if any, then starts again from iteration zero. Works in every state. The new
   * state is committed before the old run is touched, so a crash right after still finds the task running.
   */
  restart(guildId: string, name: string): Promise<Task> {
    return this.#exclusive(guildId, name, async () => {
      const task = this.#require(guildId, name);
      const schedule = storedEngineSchedule(task); // one the engine now refuses: a sentence, nothing written
      this.#journal.flush();
      this.#commitRunning(task.id, 0, schedule);
      // Let go first, so the old run's end no longer speaks for the task (it would write cancelled).
      const previous = this.#loops.release(task.id);
      previous?.loop.cancel();
      return this.#launch(task, 'from-zero', previous);
    });
  }

  /** Graceful: an iteration in flight finishes; no new one starts. */
  stop(guildId: string, name: string): Promise<Task> {
    return this.#exclusive(guildId, name, () => this.#halt(guildId, name, 'stopped'));
  }

  /** Immediate: an iteration in flight is aborted through its signal. */
  cancel(guildId: string, name: string): Promise<Task> {
    return this.#exclusive(guildId, name, () => this.#halt(guildId, name, 'cancelled'));
  }

  /** Deletes the task, its runs and its handler state; a run in flight is aborted. */
  delete(guildId: string, name: string): Promise<void> {
    return this.#exclusive(guildId, name, () => {
      const task = this.#require(guildId, name);
      deleteTask(this.#db, guildId, name);
      const activation = this.#loops.release(task.id);
      activation?.loop.cancel();
      this.#log.info({ guildId, task: name }, 'task deleted');
    });
  }

  /**
   * Replaces the schedule. A running task follows it from its next iteration. The schedule is checked by
   * the engine's own rules first (a TaskError, nothing written); the row is then written and the loop
   * changed in one transaction, so should the engine still refuse, the row rolls back and neither changes.
   */
  updateSchedule(guildId: string, name: string, schedule: TaskSchedule): Promise<Task> {
    return this.#exclusive(guildId, name, () => {
      const task = this.#require(guildId, name);
      const parsed = checkSchedule(schedule, Date.now(), this.#minIntervalSeconds);
      this.#journal.flush(); // records of the old schedule must not land after the new next run
      // A parked task gets its Loop back, waiting for the parked slot, so the engine moves it as it would a
      // live one (changeInterval's rules); it is parked again after its next iteration.
      const activation = this.#loops.activation(task.id) ?? this.#loops.unparkToLoop(task);
      const updated = inTransaction(this.#db, () => {
        const updated = updateTask(this.#db, task.id, { schedule: parsed, updatedAt: Date.now() })!;
        if (!activation || task.state !== 'running') return updated;
        try {
          activation.loop.changeInterval(toLoopOptions(parsed));
        } catch (error) {
          throw new TaskError('invalid_schedule', `That schedule is not valid (${errorText(error)}).`);
        }
        const nextRunAt = activation.loop.nextIteration?.getTime() ?? null;
        // A Loop about to be let go parks for the new slot, not the old one.
        if (!Number.isNaN(activation.parkAt) && nextRunAt !== null) activation.parkAt = nextRunAt;
        return updateTask(this.#db, task.id, { nextRunAt, updatedAt: Date.now() })!;
      });
      if (activation && task.state === 'running') {
        this.#journal.rebase(task.id, { nextRunAt: updated.nextRunAt });
      }
      return updated;
    });
  }

  /**
   * Changes a task's options, channel, name, count, catch-up or timeout (not its schedule: updateSchedule),
   * keeping its history and progress. Checked as at create (`checks` brings the kind's schema and the
   * channel check); the row is written before the loop is touched. A running task picks the changes up from
   * its next run; a new count or catch-up rebuilds its loop once the run in flight, if any, has finished as
   * it was. A count already reached completes the task. Resolves with the row and the sentence to reply.
   */
  edit(guildId: string, name: string, changes: TaskChanges, checks: EditChecks): Promise<TaskEdited> {
    const edit = async (): Promise<TaskEdited> => {
      const before = this.#require(guildId, name);
      const plan = planEdit(before, changes, checks, DEFAULT_TIMEOUT_MS);
      if (plan.recheckChannel) {
        const refused = await checks.channel(
          plan.patch.channelId ?? before.channelId,
          plan.patch.options ?? before.options,
        );
        if (refused !== undefined) throw new TaskError('invalid_definition', refused);
      }
      this.#journal.flush(); // the count is compared with the newest progress
      const written = inTransaction(this.#db, () => {
        const task = this.#require(guildId, name); // runs went on while the channel was checked
        if (plan.patch.name !== undefined && getTask(this.#db, guildId, plan.patch.name)) {
          throw new TaskError('name_taken', `This server already has a task named "${plan.patch.name}".`);
        }
        if (Object.keys(plan.patch).length === 0) return task;
        const state = plan.patch.count === undefined ? task.state : stateAfterCount(task, plan.patch.count);
        const ends = state !== 'running' && task.state === 'running';
        const patch = { ...plan.patch, state, ...(ends ? { nextRunAt: null } : {}), updatedAt: Date.now() };
        return updateTask(this.#db, task.id, patch)!;
      });
      // A parked task reads its count and catch-up from the row when it wakes: only an end concerns it.
      if (written.state !== 'running' && this.#loops.unpark(written.id)) {
        this.#journal.rebase(written.id, { nextRunAt: null });
      }
      const activation = this.#loops.activation(written.id);
      let after = written;
      if (activation && (written.state !== 'running' || plan.loopChanged)) {
        // Let go first, so the old run's end does not write its state over this one.
        this.#loops.forget(written.id);
        activation.loop.stop(); // the run in flight finishes as it was
        if (written.state === 'running') after = await this.#relaunch(activation);
        else this.#journal.rebase(written.id, { nextRunAt: null });
      }
      return { task: after, reply: describeEdit(before, after, plan) };
    };
    const renamed = changes.name !== undefined && changes.name !== name ? changes.name : undefined;
    if (renamed === undefined) return this.#exclusive(guildId, name, edit);
    // Both names are held (in one order, so two crossed renames cannot wait on each other forever).
    const [first, second] = [name, renamed].sort();
    return this.#exclusive(guildId, first!, () => this.#locks.run(`${guildId}\u0000${second}`, edit));
  }

  /**
   * A new Loop for an edited task (its count or catch-up changed) once the old one has ended, on the same slot
   * grid: the count goes on from the newest progress, and a count that run reached completes the task.
   */
  async #relaunch(previous: Activation): Promise<Task> {
    await previous.done;
    this.#journal.flush();
    const task = getTaskById(this.#db, previous.taskId);
    if (task === undefined)
      throw new TaskError('not_found', 'That task was deleted while it was being edited.');
    // Shutdown began while the old run ended: the row says running, so the next start-up resumes it.
    if (this.#loops.closing) return task;
    const currentLoop = this.#journal.pendingCurrentLoop(task.id) ?? task.currentLoop;
    const nowMs = Date.now();
    if (task.count !== null && currentLoop >= task.count) {
      this.#journal.rebase(task.id, { nextRunAt: null });
      return updateTask(this.#db, task.id, { state: 'completed', nextRunAt: null, updatedAt: nowMs })!;
    }
    const nextRunAt = resumeDueAt(storedEngineSchedule(task), task, nowMs);
    const updated = inTransaction(this.#db, () => {
      // A slot the old run gave up on must not be replayed into the new one after a crash.
      this.#journal.forgetIntent(task.id);
      this.#loops.forgetReplay(task.id);
      return updateTask(this.#db, task.id, { nextRunAt, updatedAt: nowMs })!;
    });
    this.#journal.rebase(task.id, { nextRunAt });
    this.#loops.runFrom(task, nextRunAt, currentLoop);
    return updated;
  }

  /** The guild's tasks, by name. */
  list(guildId: string): Task[] {
    this.#checkShard(guildId);
    this.#journal.flush();
    this.#resumer.writeMoves();
    return listTasks(this.#db, guildId);
  }

  /** One task with its newest runs (at most 100 are kept). */
  info(guildId: string, name: string, runLimit = 10): TaskInfo {
    this.#checkShard(guildId);
    this.#journal.flush();
    this.#resumer.writeMoves();
    const task = this.#require(guildId, name);
    return { task, runs: lastRuns(this.#db, task.id, runLimit) };
  }

  // ------------------------------------------------------------------------------------------------------
  // Start-up and shutdown

  /**
   * Brings back every task stored as running, applying each one's catch-up policy to slots missed while down.
   * Attempts a crash left open (run intents) are settled first: a slot started within the run retry window
   * runs again now, as the same iteration with the same nonce; an older one is recorded as interrupted and
   * counted, and the task goes on by its catch-up policy, or completes if that was its last run. A task that
   * is no longer running keeps its state, and its open attempt is recorded as interrupted. Reads a page of
   * rows at a time, committing each page's writes before starting its Loops, so start-up never holds all rows
   * at once. With `shards`, only the tasks and open attempts of those shards' servers are touched.
   * Safe to call again after it threw for a busy database (another shard process holding the write lock at
   * start-up: wrap it in retryWhileBusy): the pages already committed run and are skipped, and the summary
   * that finally returns counts both calls.
   */
  resumeAll(): ResumeSummary {
    return this.#resumer.resumeAll();
  }

  /**
   * Stops every loop gracefully, waiting up to `graceMs` for iterations in flight (then aborting them), and
   * records what ran. Rows stay `running`, so the next resumeAll() picks them up.
   */
  async shutdown(graceMs = DEFAULT_SHUTDOWN_GRACE_MS): Promise<void> {
    this.#resumer.close();
    await this.#loops.shutdown(graceMs);
    const unsaved = this.#journal.close();
    if (unsaved) {
      // Nothing else will write them: say exactly which progress is lost, so it can be put right by hand.
      this.#log.fatal(unsaved, 'task runs not saved at shutdown');
    }
  }

  /**
   * Writes the iterations recorded so far (they are otherwise written at the end of the current tick), and
   * tries at once any that failed to be written before. Returns whether everything is saved.
   */
  flush(): boolean {
    this.#resumer.writeMoves();
    return this.#journal.flush();
  }

  /** The most tasks one server may have on this bot. */
  get maxTasksPerGuild(): number {
    return this.#maxTasksPerGuild;
  }

  /** Run records waiting to be written (a batch the database refused waits for its retry). */
  get queuedRecords(): number {
    return this.#journal.queued;
  }

  /** Of the tasks this process runs, those with a live Loop: an iteration in flight, or a slot less than KEEP_LOOP_MS away. */
  get liveLoopCount(): number {
    return this.#loops.liveCount;
  }

  /** Of the tasks this process runs, those parked without a Loop until their next slot. */
  get parkedCount(): number {
    return this.#loops.parkedCount;
  }

  /**
   * Whether this process runs the task (live or parked) and no cancel or delete is ending it; a graceful
   * stop counts once the iteration in flight has ended. Handlers ask here (RunningTasks), not the tasks table.
   */
  isRunning(taskId: number): boolean {
    return this.#loops.has(taskId) && this.#loops.activation(taskId)?.loop.isBeingCancelled() !== true;
  }

  // ------------------------------------------------------------------------------------------------------
  // Internals

  #require(guildId: string, name: string): Task {
    const task = getTask(this.#db, guildId, name);
    if (!task) throw new TaskError('not_found', `This server has no task named "${name}".`);
    return task;
  }

  /**
   * One command at a time per task, so two quick clicks cannot start two Loops; a busy database is waited
   * out on timers (retryWhileBusy), never by blocking the event loop.
   */
  #exclusive<T>(guildId: string, name: string, fn: () => T | Promise<T>): Promise<T> {
    if (this.#loops.closing) {
      return Promise.reject(
        new TaskError('shutting_down', 'Metronome is shutting down; try again in a moment.'),
      );
    }
    try {
      this.#checkShard(guildId);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#locks.run(`${guildId}\u0000${name}`, () => retryWhileBusy(fn));
  }

  /**
   * Refuses a command for a server this process does not hold. Discord sends a server's interactions to the
   * shard that holds it, so this is a guard: two processes must never run one server's tasks.
   */
  #checkShard(guildId: string): void {
    const shards = this.#shards;
    if (shards === undefined) return;
    const shard = shardOfGuild(guildId, shards.count);
    if (!shards.ids.includes(shard)) {
      throw new TaskError(
        'other_shard',
        `This server's tasks are run by the Metronome process of shard ${shard} of ${shards.count}, not this one (${describeScope(shards)}).`,
      );
    }
  }

  async #halt(guildId: string, name: string, state: 'stopped' | 'cancelled'): Promise<Task> {
    const task = this.#require(guildId, name);
    if (task.state !== 'running') {
      throw new TaskError('not_running', `Task "${name}" is not running (it is ${task.state}).`);
    }
    const updated = updateTask(this.#db, task.id, { state, nextRunAt: null, updatedAt: Date.now() })!;
    this.#journal.rebase(task.id, { nextRunAt: null });
    this.#loops.unpark(task.id);
    const activation = this.#loops.activation(task.id);
    if (activation === undefined) return updated;
    activation.parkAt = Number.NaN; // its end is this stop, which the row already says
    if (state === 'stopped') activation.loop.stop();
    else activation.loop.cancel();
    return updated;
  }

  /**
   * Commits `running` with the first slot, then starts a fresh Loop once the previous run (a graceful stop
   * finishing its iteration, or a cancelled run) has fully ended and its last iteration is recorded.
   */
  async #launch(
    task: Task,
    count: 'continue' | 'from-zero',
    previous = this.#loops.activation(task.id),
  ): Promise<Task> {
    if (previous) await previous.done;
    this.#journal.flush();
    const current = getTaskById(this.#db, task.id);
    if (!current) throw new TaskError('not_found', `This server has no task named "${task.name}".`);
    // Shutdown began while the old run ended: the row says running, so the next start-up resumes it.
    if (this.#loops.closing) return current;
    // The row is behind while the database refuses run records: the count goes on from the newest.
    const currentLoop =
      count === 'from-zero' ? 0 : (this.#journal.pendingCurrentLoop(task.id) ?? current.currentLoop);
    const updated = this.#commitRunning(task.id, currentLoop, storedEngineSchedule(current));
    this.#loops.runFrom(updated, updated.nextRunAt!, updated.currentLoop);
    return updated;
  }

  /**
   * Writes a task as running from `currentLoop`, first slot from now, no error; and brings the records still
   * waiting to be written into line, so they cannot put the old progress back.
   */
  #commitRunning(taskId: number, currentLoop: number, schedule: Schedule): Task {
    const nowMs = Date.now();
    const updated = inTransaction(this.#db, () => {
      // An attempt of the old run left open must not be replayed into the new one after a crash.
      this.#journal.forgetIntent(taskId);
      this.#loops.forgetReplay(taskId);
      return updateTask(this.#db, taskId, {
        state: 'running',
        currentLoop,
        lastError: null,
        nextRunAt: firstDueAt(schedule, nowMs),
        updatedAt: nowMs,
      })!;
    });
    this.#journal.rebase(taskId, { currentLoop, nextRunAt: updated.nextRunAt, lastError: null });
    return updated;
  }
}
