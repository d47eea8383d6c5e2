// Running tasks between runs: each waits as one entry of a ParkedQueue, not as a Loop. Two queues, each woken
// by one entry of the engine's shared timer queue: interval tasks wait on the monotonic clock (a wall-clock
// jump neither delays nor hurries them, as in the engine), time-of-day, cron and one-off tasks wait for their
// wall-clock instant (the timer queue re-keys its wall entries when it sees the wall clock jump).
// The slot a task is parked for says which of its entries counts: unparking or parking it again makes older
// entries stale, and a stale entry is dropped when it comes out, so commands never search the heap. Two
// entries for the same task and slot wake it once: the first takes it out of the map.
import { CLOCK_JITTER_MS, clock } from '../loop/clock.js';
import { MAX_FIRES_PER_TURN, MAX_TURN_MS, sharedTimerQueue, TimerEntry } from '../loop/timer-queue.js';
import { ParkedQueue } from './parked-queue.js';
import { SlotTable } from './slot-table.js';

/** What a parked task's wake tells its owner. */
export interface Wake {
  taskId: number;
  /** The wall-clock slot it was parked for. */
  slotMs: number;
  /** How late the wake is, on the clock the task waited on. */
  lateMs: number;
  /**
   * For a task that waited on the monotonic clock: how far the wall clock was stepped while it waited
   * (positive: forward). Zero for wall-clock waits, which the timer queue already moved.
   */
  wallJumpMs: number;
}

/** Stale entries are swept out once they outnumber live ones, past this many. */
const COMPACT_AFTER_STALE = 4_096;

/**
 * Due tasks are handed to the owner in chunks of at most this many, so it can read their rows in one
 * transaction (one read lock instead of one per row); the turn's time bound is checked between chunks.
 */
export const WAKE_CHUNK = 32;

/** Called with the first `count` of `wakes`: tasks no longer parked, whose slots have come. */
export type WakeHandler = (wakes: readonly Wake[], count: number) => void;

export class ParkedTasks {
  readonly #onWakes: WakeHandler;
  /** Each parked task's slot. */
  readonly #slots = new SlotTable();
  /** Orders entries with the same key first parked, first woken. */
  #nextSeq = 0;
  #stale = 0;
  readonly #mono = new ParkedQueue();
  readonly #wall = new ParkedQueue();
  readonly #monoWake = new QueueWake(() => this.#fireMono());
  readonly #wallWake = new QueueWake(() => this.#fireWall());
  /** The chunk handed to the owner, reused: read before the next chunk. */
  readonly #chunk: Wake[] = Array.from({ length: WAKE_CHUNK }, () => ({
    taskId: 0,
    slotMs: 0,
    lateMs: 0,
    wallJumpMs: 0,
  }));
  #closed = false;

  /** `onWakes` is called with the tasks whose slots have come, in chunks, once they are no longer parked. */
  constructor(onWakes: WakeHandler) {
    this.#onWakes = onWakes;
  }

  /** Tasks waiting. */
  get size(): number {
    return this.#slots.size;
  }

  /** Bytes of the two queues' and the slot table's arrays: what the parked tasks cost. */
  get bytes(): number {
    return this.#mono.bytes + this.#wall.bytes + this.#slots.bytes;
  }

  has(taskId: number): boolean {
    return this.#slots.has(taskId);
  }

  /** The slot the task is parked for, if it is. */
  slotOf(taskId: number): number | undefined {
    return this.#slots.get(taskId);
  }

  /**
   * Parks the task until its wall-clock slot `slotMs`: on the monotonic clock when `monotonic` (an interval
   * task), else on the wall clock. Replaces any earlier parking of the task.
   */
  park(taskId: number, slotMs: number, monotonic: boolean): void {
    if (this.#closed) return;
    if (this.#slots.set(taskId, slotMs)) this.#stale++;
    const seq = this.#nextSeq++;
    if (monotonic) {
      const keyMs = clock.monoAt(slotMs);
      this.#mono.push(keyMs, slotMs, taskId, seq);
      const entry = this.#monoWake;
      if (entry.heapIndex === -1 || keyMs < entry.dueMs) sharedTimerQueue.schedule(entry, keyMs);
    } else {
      this.#wall.push(slotMs, slotMs, taskId, seq);
      const entry = this.#wallWake;
      if (entry.heapIndex === -1 || slotMs < entry.wallDueMs!) sharedTimerQueue.scheduleWall(entry, slotMs);
    }
  }

  /** Takes the task out; returns whether it was parked. Its entry is left behind, stale. */
  unpark(taskId: number): boolean {
    if (!this.#slots.delete(taskId)) return false;
    this.#stale++;
    if (this.#stale > COMPACT_AFTER_STALE && this.#stale > this.#slots.size) this.#compact();
    return true;
  }

  /**
   * Parks a woken task again for the same slot, to wake `delayMs` from now with the same measures plus the
   * delay: its row could not be read. A plain timer: this happens only while the database refuses reads.
   */
  retryLater(wake: Wake, delayMs: number): void {
    const { taskId, slotMs, lateMs, wallJumpMs } = wake;
    if (this.#closed) return;
    this.#slots.set(taskId, slotMs);
    setTimeout(() => {
      if (this.#closed || this.#slots.get(taskId) !== slotMs) return;
      this.#slots.delete(taskId);
      this.#onWakes([{ taskId, slotMs, lateMs: lateMs + delayMs, wallJumpMs }], 1);
    }, delayMs);
  }

  /** Forgets every parked task and disarms the timers: nothing wakes after this. */
  close(): void {
    this.#closed = true;
    this.#slots.clear();
    this.#mono.clear();
    this.#wall.clear();
    sharedTimerQueue.cancel(this.#monoWake);
    sharedTimerQueue.cancel(this.#wallWake);
  }

  #fireMono(): void {
    const nowMs = clock.monoMs();
    this.#drain(this.#mono, nowMs, (wake, keyMs) => {
      wake.lateMs = nowMs - keyMs;
      // The slot was keyed at slotMs − the offset of that moment: any change since is a step of the wall clock.
      const jumpMs = clock.offsetMs() - (wake.slotMs - keyMs);
      wake.wallJumpMs = Math.abs(jumpMs) > CLOCK_JITTER_MS ? jumpMs : 0;
    });
    const head = this.#mono.headKeyMs;
    if (head !== Number.POSITIVE_INFINITY) sharedTimerQueue.schedule(this.#monoWake, head);
  }

  #fireWall(): void {
    const nowMs = clock.wallMs();
    this.#drain(this.#wall, nowMs, (wake) => {
      wake.lateMs = nowMs - wake.slotMs;
      wake.wallJumpMs = 0;
    });
    const head = this.#wall.headKeyMs;
    if (head !== Number.POSITIVE_INFINITY) sharedTimerQueue.scheduleWall(this.#wallWake, head);
  }

  /**
   * Wakes the entries due by `nowMs`, as the timer queue bounds a turn: at most MAX_FIRES_PER_TURN tasks or
   * MAX_TURN_MS of work; the rest wake in the next turn, in due order.
   */
  #drain(queue: ParkedQueue, nowMs: number, measure: (wake: Wake, keyMs: number) => void): void {
    const deadlineMs = clock.monoMs() + MAX_TURN_MS;
    const chunk = this.#chunk;
    for (let woken = 0; woken < MAX_FIRES_PER_TURN && queue.headKeyMs <= nowMs; ) {
      const limit = Math.min(WAKE_CHUNK, MAX_FIRES_PER_TURN - woken);
      let count = 0;
      while (count < limit && queue.headKeyMs <= nowMs) {
        const { taskId, keyMs, slotMs } = queue.popEntry()!;
        if (this.#slots.get(taskId) !== slotMs) {
          this.#stale--;
          continue;
        }
        this.#slots.delete(taskId);
        const wake = chunk[count++]!;
        wake.taskId = taskId;
        wake.slotMs = slotMs;
        measure(wake, keyMs);
      }
      if (count === 0) break;
      try {
        this.#onWakes(chunk, count);
      } catch (error) {
        console.error('parked tasks: a wake threw', error);
      }
      woken += count;
      if (clock.monoMs() >= deadlineMs) break;
    }
  }

  #compact(): void {
    const current = (taskId: number, slotMs: number) => this.#slots.get(taskId) === slotMs;
    this.#mono.retain(current);
    this.#wall.retain(current);
    this.#stale = 0;
    // The armed instants may now be early: an early wake finds nothing due and re-arms for the new head.
  }
}

/** The one timer-queue entry of a ParkedQueue. */
class QueueWake extends TimerEntry {
  readonly #fire: () => void;

  constructor(fire: () => void) {
    super();
    this.#fire = fire;
  }

  fire(): void {
    this.#fire();
  }
}
