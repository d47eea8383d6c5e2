import { pino } from 'pino';
import { retryWhileBusy } from '../db/busy.js';
import {
  countTasks,
  type Db,
  deleteTask,
  getTask,
  getTaskById,
  type IterationRecord,
  insertTask,
  inTransaction,
  lastRuns,
  listRunningTaskTimings,
  listTasks,
  type NewTask,
  type RunIntent,
  setNextRuns,
  type Task,
  type TaskRun,
  type TaskSchedule,
  type TaskState,
  type TaskTiming,
  updateTask,
} from '../db/index.js';
import type { Logger } from '../log.js';
import {
  firstDueAt,
  type IterationEndInfo,
  type LoopContext,
  type LoopEndReason,
  MISSED_AFTER_MS,
  nextDueAfter,
  type Schedule,
  type SlotMissedInfo,
  TransientError,
} from '../loop/index.js';
import {
  Activation,
  RUN_RETRY_WINDOW_MINUTES,
  RUN_RETRY_WINDOW_MS,
  type RuntimeCallbacks,
} from './activation.js';
import { attempt, type TaskExecutor } from './attempt.js';
import {
  checkedTaskRow,
  DEFAULT_TIMEOUT_MS,
  resumeDueAt,
  settledProgress,
  type TaskDefinition,
} from './definition.js';
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
import { errorText, interruptedRecord, missedRecord, RunJournal } from './journal.js';
import { KeyedLock } from './keyed-lock.js';
import { ParkedTasks, type Wake } from './parking.js';
import { planResumePage, type ResumeInput } from './recovery.js';
import { checkSchedule, storedEngineSchedule, toLoopOptions } from './schedule.js';

// The TaskRuntime turns stored task definitions into running Loops and keeps the rows in step with them. A
// running task has a Loop only while an iteration is in flight or about to be: between runs it is parked
// (parking.ts: its slot and id in a compact queue), and woken into a new Loop when its slot comes.
// The rules that make restarts safe: a state change is committed before the Loop is touched; an attempt's
// start is committed before its handler is called; and the Loop's events (each iteration, the end of a run)
// are written back as they happen, so the rows always say what to resume. The run journal (journal.ts)
// writes the starts and the records, each batched per tick.

/** How long shutdown() waits for iterations in flight before aborting them. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
/** Rows read per page by resumeAll(). */
const RESUME_PAGE_SIZE = 1_000;
/**
 * A task whose next slot is nearer than this keeps its Loop; a later one is parked. Building a Loop at a wake
 * costs a few microseconds more than keeping one, and a kept Loop ~1.5 KB: worth it only for a slot this close.
 */
export const KEEP_LOOP_MS = 10;
/** How long a woken task whose row could not be read waits before it tries again. */
const WAKE_RETRY_MS = 1_000;

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
}

export const DEFAULT_MAX_TASKS_PER_GUILD = 100;

export interface TaskInfo {
  task: Task;
  /** Newest first. */
  runs: TaskRun[];
}

export interface ResumeSummary {
  /** Tasks running again. */
  resumed: number;
  /** Of those, tasks running one late iteration now (catch-up `once`). */
  caughtUp: number;
  /** Of those, tasks running again the slot a crash interrupted, within the run retry window. */
  replayed: number;
  /** Slots a crash interrupted too long ago to run again: recorded as interrupted and counted. */
  interrupted: number;
  /** Tasks whose stored schedule the engine no longer accepts; marked failed. */
  failed: number;
}

export class TaskRuntime {
  readonly #db: Db;
  readonly #execute: TaskExecutor;
  readonly #log: Logger;
  readonly #maxTasksPerGuild: number;
  readonly #minIntervalSeconds: number | undefined;
  /** The live Loop of each running (or still ending) task, by task id: only those with a run in flight or near. */
  readonly #active = new Map<number, Activation>();
  /** Running tasks waiting for a later slot, without a Loop. */
  readonly #parked = new ParkedTasks((wake) => this.#woken(wake));
  /**
   * Next runs that resumeAll moved (catch-up skip) for tasks it parked, written after it returns, a page per
   * turn (#writeMoves): 100,000 row updates would double a restore. Only display: resumeAll recomputes them.
   */
  #moves: Float64Array[] = []; // (id, next run) pairs: 16 bytes a task while they wait
  #movesTimer: ReturnType<typeof setImmediate> | undefined;
  /** Serializes commands on one task, keyed by (guild, name). */
  readonly #locks = new KeyedLock<string>();
  readonly #journal: RunJournal;
  /** Slots being replayed after a crash, by task, with the start of their first attempt before it. */
  readonly #replays = new Map<number, Replay>();
  /**
   * The attempt in flight of each task, until its handler settles or its timeout abandons it. A cancelled
   * loop ends without waiting for it, so the first iteration of a new run (start, restart) waits for it in
   * #iterate: a new run must not overlap the old handler (a counter posting its message before the old run
   * saved the id would post a second one). The command itself answers at once.
   */
  readonly #inFlight = new Map<number, Promise<void>>();
  #closing = false;
  readonly #callbacks: RuntimeCallbacks;
  /** Each recorded run and each journal write, for metrics: see events.ts. */
  readonly events = new RuntimeEvents();

  constructor(options: TaskRuntimeOptions) {
    this.#db = options.db;
    this.#execute = options.execute;
    this.#log = options.log ?? pino({ level: 'silent' });
    this.#journal = new RunJournal(this.#db, this.#log, this.events);
    this.#maxTasksPerGuild = options.maxTasksPerGuild ?? DEFAULT_MAX_TASKS_PER_GUILD;
    this.#minIntervalSeconds = options.minIntervalSeconds;
    if (!Number.isSafeInteger(this.#maxTasksPerGuild) || this.#maxTasksPerGuild < 1) {
      throw new RangeError(`maxTasksPerGuild must be a positive integer, got ${this.#maxTasksPerGuild}`);
    }
    this.#callbacks = {
      iterate: (activation, ctx) => this.#iterate(activation, ctx),
      iterationEnded: (activation, info) => this.#iterationEnded(activation, info),
      slotMissed: (activation, info) => this.#loopSlotMissed(activation, info),
      ended: (activation, reason, error) => this.#ended(activation, reason, error),
    };
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
      if (task.state === 'running') this.#runFrom(task, task.nextRunAt!, task.currentLoop);
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
      // Out of #active first, so the old run's end no longer speaks for the task (it would write cancelled).
      const previous = this.#active.get(task.id);
      this.#active.delete(task.id);
      this.#parked.unpark(task.id);
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
      const activation = this.#active.get(task.id);
      this.#active.delete(task.id);
      this.#parked.unpark(task.id);
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
      const activation = this.#active.get(task.id) ?? this.#unparkToLoop(task);
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
      if (written.state !== 'running' && this.#parked.unpark(written.id)) {
        this.#journal.rebase(written.id, { nextRunAt: null });
      }
      const activation = this.#active.get(written.id);
      let after = written;
      if (activation && (written.state !== 'running' || plan.loopChanged)) {
        // Out of #active first, so the old run's end does not write its state over this one.
        this.#active.delete(written.id);
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
    if (this.#closing) return task;
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
      this.#replays.delete(task.id);
      return updateTask(this.#db, task.id, { nextRunAt, updatedAt: nowMs })!;
    });
    this.#journal.rebase(task.id, { nextRunAt });
    this.#runFrom(task, nextRunAt, currentLoop);
    return updated;
  }

  /** The guild's tasks, by name. */
  list(guildId: string): Task[] {
    this.#journal.flush();
    this.#writeMoves();
    return listTasks(this.#db, guildId);
  }

  /** One task with its newest runs (at most 100 are kept). */
  info(guildId: string, name: string, runLimit = 10): TaskInfo {
    this.#journal.flush();
    this.#writeMoves();
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
   * at once.
   */
  resumeAll(): ResumeSummary {
    const nowMs = Date.now();
    const open = new Map<number, RunIntent>();
    for (const intent of this.#journal.openIntents()) open.set(intent.taskId, intent);
    const input: ResumeInput = {
      nowMs,
      retryWindowMs: RUN_RETRY_WINDOW_MS,
      open,
      schedules: new Map(),
      isActive: (taskId) => this.#active.has(taskId) || this.#parked.has(taskId),
      log: this.#log,
    };
    const broken: { id: number; error: string }[] = [];
    let resumed = 0;
    let caughtUp = 0;
    let replayed = 0;
    let interrupted = 0;
    let page: TaskTiming[];
    for (let afterId = 0; ; afterId = page[page.length - 1]!.id) {
      page = listRunningTaskTimings(this.#db, { afterId, limit: RESUME_PAGE_SIZE });
      if (page.length === 0) break;
      // Each page is planned at its own instant: slots that came due while earlier pages were read go to catch-up.
      input.nowMs = Date.now();
      const plan = planResumePage(page, input);
      broken.push(...plan.broken);
      // Tasks that will wait parked get their moved next run written later (see #moves); the rest now.
      const parkFromMs = input.nowMs + KEEP_LOOP_MS;
      const later: number[] = [];
      const now: { id: number; nextRunAt: number }[] = [];
      for (const move of plan.moved) {
        if (move.nextRunAt >= parkFromMs && !plan.replays.has(move.id)) later.push(move.id, move.nextRunAt);
        else now.push(move);
      }
      if (later.length > 0) this.#moves.push(Float64Array.from(later));
      inTransaction(this.#db, () => {
        this.#journal.recordNow(plan.settled);
        if (plan.settled.length > 0) {
          const kinds = new Map(page.map((task) => [task.id, task.kind]));
          for (const record of plan.settled) this.#recorded(record, kinds.get(record.taskId) ?? 'unknown');
        }
        setNextRuns(this.#db, now, input.nowMs);
        for (const id of plan.completed) {
          updateTask(this.#db, id, { state: 'completed', nextRunAt: null, updatedAt: input.nowMs });
        }
      });
      interrupted += plan.settled.filter((record) => record.outcome === 'interrupted').length;
      for (const [taskId, intent] of plan.replays) {
        this.#replays.set(taskId, {
          scheduledAt: intent.scheduledAt,
          firstStartedAt: intent.startedAt,
          late: false,
        });
      }
      for (const task of plan.due) {
        const dueMs = task.nextRunAt!;
        try {
          // A replay runs now; anything else due now or soon gets its Loop, and the rest is parked.
          if (plan.replays.has(task.id)) {
            this.#activate(new Activation(task, this.#callbacks), dueMs, task.currentLoop);
          } else {
            this.#runFrom(task, dueMs, task.currentLoop);
          }
        } catch (error) {
          broken.push({ id: task.id, error: errorText(error) }); // e.g. a stored count the engine refuses
          continue;
        }
        resumed++;
        if (plan.replays.has(task.id)) replayed++;
        else if (dueMs < input.nowMs) caughtUp++;
      }
      if (page.length < RESUME_PAGE_SIZE) break;
    }
    interrupted += this.#settleStopped(open.values(), nowMs);
    inTransaction(this.#db, () => {
      for (const { id, error } of broken) {
        updateTask(this.#db, id, { state: 'failed', lastError: error, nextRunAt: null, updatedAt: nowMs });
        this.#log.error({ taskId: id, error }, 'task not resumed');
      }
    });
    const summary = { resumed, caughtUp, replayed, interrupted, failed: broken.length };
    this.#log.info(summary, 'tasks resumed');
    if (this.#moves.length > 0) this.#movesTimer ??= setImmediate(this.#writeMovesPage);
    return summary;
  }

  /** Writes one page of the moved next runs, and comes back next turn for the rest. */
  readonly #writeMovesPage = (): void => {
    this.#movesTimer = undefined;
    const page = this.#moves.shift();
    if (page !== undefined) this.#writeMovePage(page);
    if (this.#moves.length > 0 && !this.#closing) this.#movesTimer = setImmediate(this.#writeMovesPage);
  };

  /** Writes every moved next run still waiting (a listing must show them). */
  #writeMoves(): void {
    while (this.#moves.length > 0) this.#writeMovePage(this.#moves.shift()!);
  }

  /** Only for tasks still parked for that slot: a run or a command since has written its own. */
  #writeMovePage(page: Float64Array): void {
    const current: { id: number; nextRunAt: number }[] = [];
    for (let at = 0; at < page.length; at += 2) {
      const id = page[at]!;
      const nextRunAt = page[at + 1]!;
      if (this.#parked.slotOf(id) === nextRunAt) current.push({ id, nextRunAt });
    }
    try {
      setNextRuns(this.#db, current, Date.now());
    } catch (error) {
      // Only a display field, recomputed at every start-up; the task runs at its slot all the same.
      this.#log.warn({ err: error, tasks: current.length }, 'could not save the next runs of resumed tasks');
    }
  }

  /**
   * Records as interrupted the open attempts of tasks that are not running (stopped while the attempt ran,
   * or failed by the watchdog that ended the process), leaving their state as it is. Returns how many.
   */
  #settleStopped(intents: Iterable<RunIntent>, nowMs: number): number {
    const settled: IterationRecord[] = [];
    const kinds = new Map<number, string>();
    for (const intent of intents) {
      const task = getTaskById(this.#db, intent.taskId);
      if (task === undefined || this.#active.has(task.id) || this.#parked.has(task.id)) continue;
      this.#log.warn(
        { taskId: task.id, state: task.state, scheduledAt: new Date(intent.scheduledAt) },
        'the bot stopped during a run of a task that is not running; recorded as interrupted',
      );
      const record = interruptedRecord(intent, settledProgress(task, intent), null, nowMs); // not running: no next run
      settled.push(record);
      kinds.set(record.taskId, task.kind);
    }
    this.#journal.recordNow(settled);
    for (const record of settled) this.#recorded(record, kinds.get(record.taskId)!);
    return settled.length;
  }

  /**
   * Stops every loop gracefully, waiting up to `graceMs` for iterations in flight (then aborting them), and
   * records what ran. Rows stay `running`, so the next resumeAll() picks them up.
   */
  async shutdown(graceMs = DEFAULT_SHUTDOWN_GRACE_MS): Promise<void> {
    this.#closing = true;
    // Parked tasks need nothing: their rows say running, and start-up works out their next run again.
    if (this.#movesTimer !== undefined) clearImmediate(this.#movesTimer);
    this.#moves = [];
    this.#parked.close();
    const activations = [...this.#active.values()];
    for (const activation of activations) activation.loop.stop();
    const allDone = Promise.all(activations.map((a) => a.done));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
    });
    if ((await Promise.race([allDone, graceOver])) === 'late') {
      for (const activation of activations) activation.loop.cancel();
      await allDone;
    }
    clearTimeout(timer);
    this.#active.clear();
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
    this.#writeMoves();
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

  /** How many tasks this process runs: those with a live Loop and those parked until their next slot. */
  get activeCount(): number {
    return this.#active.size + this.#parked.size;
  }

  /** Of activeCount, the tasks with a live Loop: an iteration in flight, or a slot less than KEEP_LOOP_MS away. */
  get liveLoopCount(): number {
    return this.#active.size;
  }

  /** Of activeCount, the tasks parked without a Loop until their next slot. */
  get parkedCount(): number {
    return this.#parked.size;
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
    if (this.#closing) {
      return Promise.reject(
        new TaskError('shutting_down', 'Metronome is shutting down; try again in a moment.'),
      );
    }
    return this.#locks.run(`${guildId}\u0000${name}`, () => retryWhileBusy(fn));
  }

  async #halt(guildId: string, name: string, state: 'stopped' | 'cancelled'): Promise<Task> {
    const task = this.#require(guildId, name);
    if (task.state !== 'running') {
      throw new TaskError('not_running', `Task "${name}" is not running (it is ${task.state}).`);
    }
    const updated = updateTask(this.#db, task.id, { state, nextRunAt: null, updatedAt: Date.now() })!;
    this.#journal.rebase(task.id, { nextRunAt: null });
    this.#parked.unpark(task.id);
    const activation = this.#active.get(task.id);
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
    previous = this.#active.get(task.id),
  ): Promise<Task> {
    if (previous) await previous.done;
    this.#journal.flush();
    const current = getTaskById(this.#db, task.id);
    if (!current) throw new TaskError('not_found', `This server has no task named "${task.name}".`);
    // Shutdown began while the old run ended: the row says running, so the next start-up resumes it.
    if (this.#closing) return current;
    // The row is behind while the database refuses run records: the count goes on from the newest.
    const currentLoop =
      count === 'from-zero' ? 0 : (this.#journal.pendingCurrentLoop(task.id) ?? current.currentLoop);
    const updated = this.#commitRunning(task.id, currentLoop, storedEngineSchedule(current));
    this.#runFrom(updated, updated.nextRunAt!, updated.currentLoop);
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
      this.#replays.delete(taskId);
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

  #activate(activation: Activation, firstDueMs: number, currentLoop: number): void {
    this.#active.set(activation.taskId, activation);
    activation.done = activation.loop.resume({ currentLoop, firstDueAt: firstDueMs }, activation);
  }

  /** Runs a running task from the slot `dueMs`: a Loop now if the slot is near, else parked until it. */
  #runFrom(task: TaskTiming, dueMs: number, currentLoop: number): void {
    if (dueMs - Date.now() >= KEEP_LOOP_MS)
      this.#parked.park(task.id, dueMs, task.schedule.kind === 'interval');
    else this.#activate(new Activation(task, this.#callbacks), dueMs, currentLoop);
  }

  /** A parked task as a live Loop waiting for its parked slot (see updateSchedule); undefined if not parked. */
  #unparkToLoop(task: Task): Activation | undefined {
    const slotMs = this.#parked.slotOf(task.id);
    if (slotMs === undefined || task.state !== 'running') return undefined;
    const activation = new Activation(task, this.#callbacks);
    this.#parked.unpark(task.id);
    this.#activate(activation, slotMs, this.#journal.pendingCurrentLoop(task.id) ?? task.currentLoop);
    return activation;
  }

  /**
   * A parked task's slot has come: its row is read and a Loop built from it, to run that slot, unless the
   * slot was missed. The Loop runs a resumed first slot however late, so what the engine's own wait would
   * decide is decided here: a relative grid moves with a wall-clock step (its wait was monotonic), and a
   * slot seen more than MISSED_AFTER_MS late is skipped unless the task catches up `once`.
   */
  #woken(wake: Wake): void {
    if (this.#closing) return; // the row stays running with its next run: the next start-up resumes it
    const { taskId, slotMs, lateMs, wallJumpMs } = wake;
    let task: Task | undefined;
    try {
      task = getTaskById(this.#db, taskId);
    } catch (error) {
      this.#log.warn({ taskId, err: error }, 'could not read a task whose run is due; trying again');
      this.#parked.retryLater(wake, WAKE_RETRY_MS);
      return;
    }
    // Commands unpark the tasks they end, so this is a task changed by another process: it is not ours.
    if (task === undefined || task.state !== 'running' || this.#active.has(taskId)) return;
    let activation: Activation;
    try {
      activation = new Activation(task, this.#callbacks);
    } catch (error) {
      this.#fail(taskId, error); // a stored schedule or count the engine no longer accepts
      return;
    }
    const schedule = activation.loop.schedule;
    let dueMs = slotMs;
    if (wallJumpMs !== 0 && schedule.kind === 'relative') {
      // As the engine does: rounded down, never early; a whole-interval step back would repeat slots (nonces).
      let shiftMs = Math.floor(wallJumpMs);
      if (shiftMs < 0 && shiftMs % schedule.intervalMs === 0) shiftMs -= 1;
      dueMs += shiftMs;
    }
    const currentLoop = this.#journal.pendingCurrentLoop(taskId) ?? task.currentLoop;
    if (lateMs > MISSED_AFTER_MS && task.catchUp !== 'once') {
      const nowMs = Date.now();
      const nextMs = nextDueAfter(schedule, { anchorMs: dueMs, lastDueMs: dueMs, nowMs });
      const next = Number.isFinite(nextMs) ? nextMs : null;
      this.#slotMissed(taskId, task.kind, currentLoop, dueMs, next);
      if (next === null) this.#completeMissed(taskId);
      else this.#runFrom(task, next, currentLoop);
      return;
    }
    activation.row = task;
    this.#activate(activation, dueMs, currentLoop);
  }

  /** A parked one-off whose slot was missed (see #woken) completes, as its Loop would have. */
  #completeMissed(taskId: number): void {
    this.#journal.flush();
    try {
      updateTask(this.#db, taskId, { state: 'completed', nextRunAt: null, updatedAt: Date.now() });
    } catch (error) {
      // Its missed record says it ran out of slots; the next start-up completes it from there.
      this.#log.warn({ taskId, err: error }, 'could not mark a missed one-off completed');
    }
    this.#journal.rebase(taskId, { nextRunAt: null });
  }

  /** Marks a woken task failed: its stored definition is one the engine refuses. */
  #fail(taskId: number, error: unknown): void {
    this.#log.error({ taskId, error: errorText(error) }, 'task not resumed');
    try {
      updateTask(this.#db, taskId, {
        state: 'failed',
        lastError: errorText(error),
        nextRunAt: null,
        updatedAt: Date.now(),
      });
    } catch (writeError) {
      this.#log.warn({ taskId, err: writeError }, 'could not mark a task failed');
    }
  }

  /**
   * The loop callback of every task. The attempt's start is committed first (with the rest of the tick's,
   * by the journal), and only then is the executor called, bounded by the task's timeout.
   */
  #iterate(activation: Activation, loopContext: LoopContext): Promise<void> {
    const previous = this.#inFlight.size === 0 ? undefined : this.#inFlight.get(activation.taskId);
    if (previous !== undefined) {
      // Bounded by the old attempt's timeout, past which it is abandoned and settles.
      return previous.then(
        () => this.#iterateNow(activation, loopContext),
        () => this.#iterateNow(activation, loopContext),
      );
    }
    return this.#iterateNow(activation, loopContext);
  }

  #iterateNow(activation: Activation, loopContext: LoopContext): Promise<void> {
    // Read per iteration rather than kept: 100,000 cached rows cost ~45 MB for ~6 µs saved per fire.
    // Normally current: the previous iteration's record was flushed in a microtask before this timer turn.
    let task = activation.row;
    activation.row = undefined;
    if (task === undefined) {
      try {
        task = getTaskById(this.#db, activation.taskId);
      } catch (error) {
        // A database that cannot be read now (busy, say) is a passing error: the loop retries the slot.
        return Promise.reject(
          new TransientError(`could not read the task from the database (${errorText(error)})`, {
            cause: error,
          }),
        );
      }
      if (task === undefined) return Promise.resolve();
    }
    const scheduledAt = loopContext.scheduledAt.getTime();
    if (this.#replays.size > 0 && this.#replayTooLate(task.id, scheduledAt)) return Promise.resolve();
    const intent: RunIntent = {
      taskId: task.id,
      scheduledAt,
      startedAt: Date.now(),
      iteration: loopContext.iteration,
    };
    const found = task;
    return this.#journal.begin(intent).then(() => this.#attempt(activation, found, loopContext));
  }

  /**
   * Whether this attempt would retry a replayed slot past the run retry window, counted from its first
   * attempt before the crash (the loop counts only from the replay). A post now could show up as a second
   * message, so none is made: the slot is recorded as interrupted, and counted.
   */
  #replayTooLate(taskId: number, scheduledAt: number): boolean {
    const replay = this.#replays.get(taskId);
    if (replay?.scheduledAt !== scheduledAt || Date.now() - replay.firstStartedAt < RUN_RETRY_WINDOW_MS) {
      return false;
    }
    replay.late = true;
    return true;
  }

  /** The attempt, unless its run was cancelled, deleted or replaced while its start was being written. */
  #attempt(activation: Activation, task: Task, loopContext: LoopContext): Promise<void> {
    const { loop: current } = activation;
    if (this.#active.get(task.id) !== activation || !current.isRunning() || current.isBeingCancelled()) {
      return Promise.resolve(); // the loop no longer waits for it
    }
    activation.calledSlot = loopContext.scheduledAt.getTime();
    const running = attempt(this.#execute, task, loopContext);
    this.#inFlight.set(task.id, running);
    const forget = () => {
      if (this.#inFlight.get(task.id) === running) this.#inFlight.delete(task.id);
    };
    running.then(forget, forget);
    return running;
  }

  #iterationEnded(activation: Activation, info: IterationEndInfo): void {
    const ok = info.outcome === 'ok';
    const scheduledAt = info.scheduledAt.getTime();
    const replay = this.#replays.size === 0 ? undefined : this.#replays.get(activation.taskId);
    if (replay !== undefined && (replay.scheduledAt !== scheduledAt || info.outcome !== 'retried')) {
      this.#replays.delete(activation.taskId); // that slot is settled
    }
    let error = ok || info.outcome === 'cancelled' ? null : errorText(info.error);
    // Given up after RUN_RETRY_WINDOW: an error run, but the task goes on with its next slot.
    if (info.gaveUp) {
      error = `gave up on this run after retrying for ${RUN_RETRY_WINDOW_MINUTES} minutes: ${error}`;
      this.#log.warn({ taskId: activation.taskId, scheduledAt: info.scheduledAt, error }, 'run given up');
    } else if (info.outcome === 'retried') {
      // info, not warn: in a Discord outage every task retries several times per run.
      this.#log.info(
        { taskId: activation.taskId, scheduledAt: info.scheduledAt, retryAt: info.nextIteration, error },
        'run failed; retrying',
      );
    }
    // A cancel (by command) that cut a run after its handler was called: it may have posted, so it counts,
    // or a task cancelled after its post and started again would post once more than its count.
    const cutShort = info.outcome === 'cancelled' && !this.#closing && activation.calledSlot === scheduledAt;
    const late = ok && replay?.late === true && replay.scheduledAt === scheduledAt;
    if (late) {
      this.#log.warn(
        { taskId: activation.taskId, scheduledAt: info.scheduledAt },
        'gave up replaying a run past the retry window; recorded as interrupted',
      );
    }
    const record: IterationRecord = {
      taskId: activation.taskId,
      scheduledAt,
      startedAt: info.startedAt.getTime(),
      finishedAt: info.finishedAt.getTime(),
      outcome: late ? 'interrupted' : info.outcome,
      error,
      currentLoop: ok || cutShort ? info.iteration + 1 : info.iteration,
      lastRunAt: ok || cutShort ? scheduledAt : null, // null: keep the last success (see recordIterations)
      // An iteration that did not finish (cancelled at shutdown, say) leaves its slot owed, for resumeAll.
      nextRunAt: info.nextIteration?.getTime() ?? (ok ? null : scheduledAt),
      lastError: error,
      // A retry is the same slot still in flight. An attempt aborted at shutdown may have posted: its intent
      // stays, so the next start-up replays the slot with its nonce, or records it as interrupted.
      settlesSlot: info.outcome !== 'retried' && !(info.outcome === 'cancelled' && this.#closing),
    };
    this.#journal.record(record);
    this.#recorded(record, activation.kind, info.gaveUp === true);
    // The slot is settled and the next one is not near: the Loop is let go, and the task parked (see #ended).
    const nextMs = info.nextIteration?.getTime() ?? Number.NaN;
    if (
      (ok || info.gaveUp === true) &&
      nextMs - info.finishedAt.getTime() >= KEEP_LOOP_MS &&
      !this.#closing &&
      this.#active.get(activation.taskId) === activation
    ) {
      activation.parkAt = nextMs;
      activation.loop.stop();
    }
  }

  /** Tells the event stream a run was recorded; costs nothing while no one listens. */
  #recorded(record: IterationRecord, kind: string, gaveUp = false): void {
    if (this.events.listenerCount('runRecorded') === 0) return;
    const { taskId, outcome, scheduledAt, startedAt, finishedAt } = record;
    this.events.emit('runRecorded', { taskId, kind, outcome, gaveUp, scheduledAt, startedAt, finishedAt });
  }

  /**
   * The clock jumped past a slot, or the process stalled through it, and the catch-up policy skipped it, as
   * after downtime: not a run, not counted. The row's next run moves on so /task list does not show the past.
   */
  #loopSlotMissed(activation: Activation, info: SlotMissedInfo): void {
    const { taskId, kind, loop } = activation;
    const nextRunAt = info.nextIteration?.getTime() ?? null;
    this.#slotMissed(taskId, kind, loop.currentLoop, info.scheduledAt.getTime(), nextRunAt);
  }

  /** A missed slot (see #loopSlotMissed and #woken), before the task goes on with `nextRunAt` or completes. */
  #slotMissed(
    taskId: number,
    kind: string,
    currentLoop: number,
    scheduledAt: number,
    nextRunAt: number | null,
  ): void {
    if (nextRunAt === null) {
      // A one-off's only slot: recorded as missed (the loop then completes), so /task info can say so.
      const record = missedRecord({ id: taskId, currentLoop, nextRunAt: scheduledAt }, Date.now());
      this.#journal.record(record);
      this.#recorded(record, kind);
      return;
    }
    this.#log.info(
      { taskId, missed: new Date(scheduledAt), nextRunAt: new Date(nextRunAt) },
      'missed a run (the clock jumped or the bot stalled); catch-up skip goes on with the next one',
    );
    this.#journal.rebase(taskId, { nextRunAt });
    try {
      setNextRuns(this.#db, [{ id: taskId, nextRunAt }], Date.now());
    } catch (error) {
      // Only a display field: the next record or start-up (from lastRunAt) puts it right.
      this.#log.warn({ taskId, err: error }, 'could not save the next run after a missed one');
    }
  }

  #ended(activation: Activation, reason: LoopEndReason, error: unknown): void {
    // At shutdown rows stay `running`; a replaced or deleted run no longer speaks for its task.
    if (this.#closing || this.#active.get(activation.taskId) !== activation) return;
    this.#active.delete(activation.taskId);
    if (reason === 'stopped' && !Number.isNaN(activation.parkAt)) {
      // Stopped by #iterationEnded to be let go: the row already says running, with this next run.
      this.#parked.park(activation.taskId, activation.parkAt, activation.loop.schedule.kind === 'relative');
      return;
    }
    this.#journal.flush();
    // Each way a loop ends is also the name of the state it leaves the task in.
    const patch = { state: reason satisfies TaskState, nextRunAt: null, updatedAt: Date.now() };
    if (reason === 'failed') {
      const row = updateTask(this.#db, activation.taskId, { ...patch, lastError: errorText(error) });
      this.#log.warn({ guildId: row?.guildId, task: row?.name, error: errorText(error) }, 'task failed');
    } else {
      updateTask(this.#db, activation.taskId, patch);
    }
    // The run's last records (a cancelled iteration leaves its slot owed) must not bring a next run back.
    this.#journal.rebase(activation.taskId, { nextRunAt: null });
  }
}

interface Replay {
  scheduledAt: number;
  firstStartedAt: number;
  /** Its retry came past the window and was not run (see #replayTooLate). */
  late: boolean;
}
