// Start-up: every task stored as running is brought back, page by page (recovery.ts plans each page), and the
// next runs it moved for tasks it parked are written afterwards, a page per turn.
import {
  type Db,
  getTaskById,
  type IterationRecord,
  inTransaction,
  listRunIntents,
  listRunningTaskTimings,
  type RunIntent,
  setNextRuns,
  type TaskTiming,
  updateTask,
} from '../db/index.js';
import type { Logger } from '../log.js';
import { RUN_RETRY_WINDOW_MS } from './activation.js';
import { settledProgress } from './definition.js';
import { errorText, interruptedRecord, type RunJournal } from './journal.js';
import { planResumePage, type ResumeInput } from './recovery.js';
import { describeScope, type ShardScope } from './shard-scope.js';
import { KEEP_LOOP_MS, type TaskLoops } from './task-loops.js';

/** Rows read per page by resumeAll(). */
const RESUME_PAGE_SIZE = 1_000;

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

/** What start-up needs of the tasks this process runs. */
export type ResumeTarget = Pick<
  TaskLoops,
  'has' | 'parkedSlot' | 'expectReplay' | 'newActivation' | 'activate' | 'runFrom' | 'recorded'
>;

export class Resumer {
  readonly #db: Db;
  readonly #log: Logger;
  readonly #journal: RunJournal;
  readonly #loops: ResumeTarget;
  /** Only these shards' servers' tasks are this process's to resume (undefined: every server's). */
  readonly #shards: ShardScope | undefined;
  /**
   * Next runs that resumeAll moved (catch-up skip) for tasks it parked, written after it returns, a page per
   * turn (#writeMovesPage): 100,000 row updates would double a restore. Only display: resumeAll recomputes them.
   */
  #moves: Float64Array[] = []; // (id, next run) pairs: 16 bytes a task while they wait
  #movesTimer: ReturnType<typeof setImmediate> | undefined;
  #closed = false;
  /** What a resumeAll that met a busy database part-way had done: the call that tries again goes on from it. */
  #carried: Omit<ResumeSummary, 'failed'> | undefined;

  constructor(
    deps: { db: Db; log: Logger; journal: RunJournal; shards: ShardScope | undefined },
    loops: ResumeTarget,
  ) {
    this.#db = deps.db;
    this.#shards = deps.shards;
    this.#log = deps.log;
    this.#journal = deps.journal;
    this.#loops = loops;
  }

  /** See TaskRuntime.resumeAll. */
  resumeAll(): ResumeSummary {
    const loops = this.#loops;
    const nowMs = Date.now();
    const open = new Map<number, RunIntent>();
    // Another process's open attempts are its own to replay or settle: never read here, so never recorded.
    for (const intent of listRunIntents(this.#db, this.#shards)) open.set(intent.taskId, intent);
    const input: ResumeInput = {
      nowMs,
      retryWindowMs: RUN_RETRY_WINDOW_MS,
      open,
      schedules: new Map(),
      isActive: (taskId) => loops.has(taskId),
      log: this.#log,
    };
    const broken: { id: number; error: string }[] = [];
    // Pages committed before a failure stay done (their tasks run, so they are skipped when it is tried again).
    const done = this.#carried ?? { resumed: 0, caughtUp: 0, replayed: 0, interrupted: 0 };
    this.#carried = done;
    let page: TaskTiming[];
    for (let afterId = 0; ; afterId = page[page.length - 1]!.id) {
      page = listRunningTaskTimings(this.#db, { afterId, limit: RESUME_PAGE_SIZE }, this.#shards);
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
      // A busy database throws here, before any of the page's loops start: the page is planned again next call.
      inTransaction(this.#db, () => {
        this.#journal.recordNow(plan.settled);
        setNextRuns(this.#db, now, input.nowMs);
        for (const id of plan.completed) {
          updateTask(this.#db, id, { state: 'completed', nextRunAt: null, updatedAt: input.nowMs });
        }
      });
      if (later.length > 0) this.#moves.push(Float64Array.from(later));
      if (plan.settled.length > 0) {
        const kinds = new Map(page.map((task) => [task.id, task.kind]));
        for (const record of plan.settled) loops.recorded(record, kinds.get(record.taskId) ?? 'unknown');
      }
      done.interrupted += plan.settled.filter((record) => record.outcome === 'interrupted').length;
      for (const [taskId, intent] of plan.replays) loops.expectReplay(taskId, intent);
      for (const task of plan.due) {
        const dueMs = task.nextRunAt!;
        try {
          // A replay runs now; anything else due now or soon gets its Loop, and the rest is parked.
          if (plan.replays.has(task.id)) {
            loops.activate(loops.newActivation(task), dueMs, task.currentLoop);
          } else {
            loops.runFrom(task, dueMs, task.currentLoop);
          }
        } catch (error) {
          broken.push({ id: task.id, error: errorText(error) }); // e.g. a stored count the engine refuses
          continue;
        }
        done.resumed++;
        if (plan.replays.has(task.id)) done.replayed++;
        else if (dueMs < input.nowMs) done.caughtUp++;
      }
      if (page.length < RESUME_PAGE_SIZE) break;
    }
    done.interrupted += this.#settleStopped(open.values(), nowMs);
    inTransaction(this.#db, () => {
      for (const { id, error } of broken) {
        updateTask(this.#db, id, { state: 'failed', lastError: error, nextRunAt: null, updatedAt: nowMs });
        this.#log.error({ taskId: id, error }, 'task not resumed');
      }
    });
    this.#carried = undefined;
    const summary = { ...done, failed: broken.length };
    const scope =
      this.#shards === undefined ? 'every server' : `the servers of ${describeScope(this.#shards)}`;
    this.#log.info({ ...summary, scope }, 'tasks resumed');
    if (this.#moves.length > 0) this.#movesTimer ??= setImmediate(this.#writeMovesPage);
    return summary;
  }

  /** Writes every moved next run still waiting (a listing must show them). */
  writeMoves(): void {
    while (this.#moves.length > 0) this.#writeMovePage(this.#moves.shift()!);
  }

  /** Shutdown: the moves still waiting are dropped, as start-up recomputes them. */
  close(): void {
    this.#closed = true;
    if (this.#movesTimer !== undefined) clearImmediate(this.#movesTimer);
    this.#moves = [];
  }

  /** Writes one page of the moved next runs, and comes back next turn for the rest. */
  readonly #writeMovesPage = (): void => {
    this.#movesTimer = undefined;
    const page = this.#moves.shift();
    if (page !== undefined) this.#writeMovePage(page);
    if (this.#moves.length > 0 && !this.#closed) this.#movesTimer = setImmediate(this.#writeMovesPage);
  };

  /** Only for tasks still parked for that slot: a run or a command since has written its own. */
  #writeMovePage(page: Float64Array): void {
    const current: { id: number; nextRunAt: number }[] = [];
    for (let at = 0; at < page.length; at += 2) {
      const id = page[at]!;
      const nextRunAt = page[at + 1]!;
      if (this.#loops.parkedSlot(id) === nextRunAt) current.push({ id, nextRunAt });
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
      if (task === undefined || this.#loops.has(task.id)) continue;
      this.#log.warn(
        { taskId: task.id, state: task.state, scheduledAt: new Date(intent.scheduledAt) },
        'the bot stopped during a run of a task that is not running; recorded as interrupted',
      );
      const record = interruptedRecord(intent, settledProgress(task, intent), null, nowMs); // not running: no next run
      settled.push(record);
      kinds.set(record.taskId, task.kind);
    }
    this.#journal.recordNow(settled);
    for (const record of settled) this.#loops.recorded(record, kinds.get(record.taskId)!);
    return settled.length;
  }
}
