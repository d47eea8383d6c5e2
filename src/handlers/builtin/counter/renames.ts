// The counter's channel renames within Discord's limit of 2 per 10 minutes per channel. A 429 for that
// sublimit can hold the request for minutes, so the counter keeps its own record of recent renames
// (counter_state) and never sends a rename the window would refuse: a change that arrives with the window full
// is held (latest value wins) and applied by a timer when the window opens, or by the next run if that is
// sooner. Anyone renaming the channel spends the same budget, so Discord may still answer 429: the client
// rejects a channel edit's rate limit instead of waiting out its retry-after inside the run (see createClient),
// and the rename is held the same way until the time Discord gave. A held rename is dropped once its task
// stops, is cancelled or deleted; `/task info` mentions it only while something will apply it.
//
// The timers and the lock are one bot's (HeldRenames, in the counter's per-bot state): two bots in one process
// never share them, and one bot's clean-up clears only its own.
import { type Client, RateLimitError } from 'discord.js';
import { type Db, getCounterState, saveCounterState } from '../../../db/index.js';
import type { Logger } from '../../../log.js';
import { KeyedLock } from '../../../tasks/index.js';
import type { HandlerStore, RunningTasks } from '../../define.js';

export const RENAME_LIMIT = 2;
export const RENAME_WINDOW_MS = 10 * 60_000;
/** Our clock and Discord's differ a little; opening the window a moment late never costs a 429. */
const RENAME_MARGIN_MS = 1_000;
/** Until when (ms) Discord refused renames with a 429: others' renames spent the channel's budget. */
const BLOCKED_KEY = 'renameBlockedUntil';

/**
 * A held rename wakes at least this often to check its task still runs (a graceful stop between runs tells
 * the handler nothing), and drops itself once it does not.
 */
export const HELD_HALT_CHECK_MS = 15_000;

export interface HeldRename {
  timer: ReturnType<typeof setTimeout>;
  /** What the timer renames with; `status()` asks its `tasks` whether the task still runs. */
  deps: RenameDeps;
  /** The held text (latest value wins) and when the rename window opens for it (ms). */
  text: string;
  opensAt: number;
}

/** One bot's renames: one at a time per task (a run and a held-rename timer may meet), and the held ones. */
export class HeldRenames {
  readonly lock = new KeyedLock<number>();
  readonly #held = new Map<number, HeldRename>();

  get(taskId: number): HeldRename | undefined {
    return this.#held.get(taskId);
  }

  set(taskId: number, held: HeldRename): void {
    this.#held.set(taskId, held);
  }

  /** Forgets the task's held rename and its timer. */
  clear(taskId: number): void {
    clearTimeout(this.#held.get(taskId)?.timer);
    this.#held.delete(taskId);
  }

  /** The bot is stopping: no timer of its renames fires any more. */
  clearAll(): void {
    for (const taskId of [...this.#held.keys()]) this.clear(taskId);
  }

  /** The held rename something will apply: a timer of this bot's, with its task still running here. */
  live(taskId: number): HeldRename | undefined {
    const held = this.#held.get(taskId);
    return held?.deps.tasks.isRunning(taskId) ? held : undefined;
  }
}

export interface RenameDeps {
  renames: HeldRenames;
  tasks: RunningTasks;
  db: Db;
  client: Client;
  store: HandlerStore;
  log: Logger;
  taskId: number;
  channelId: string;
  /** The run's signal on the run path; the held timer has none. */
  signal?: AbortSignal;
}

/** When the next rename may go: our own window of recent renames, or later if Discord said so with a 429. */
function renameOpensAt(recent: readonly number[], blockedUntil: number | null, now: number): number {
  const windowOpensAt =
    recent.length >= RENAME_LIMIT
      ? recent[recent.length - RENAME_LIMIT]! + RENAME_WINDOW_MS + RENAME_MARGIN_MS
      : now;
  return Math.max(windowOpensAt, blockedUntil ?? now);
}

/** A run's rename: one at a time per task, dropped at once if a cancel or delete aborts the run. */
export async function renameFromRun(deps: RenameDeps & { signal: AbortSignal }, text: string): Promise<void> {
  const onAbort = () => dropHeldRenameOnHalt(deps);
  deps.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await deps.renames.lock.run(deps.taskId, () => renameWithinLimit(deps, text));
  } finally {
    deps.signal.removeEventListener('abort', onAbort);
  }
}

/** Renames the channel to `text` if it changed and the window allows; otherwise holds it for later. */
async function renameWithinLimit(deps: RenameDeps, text: string): Promise<void> {
  const { db, client, store, taskId, channelId, renames } = deps;
  const state = getCounterState(db, taskId);
  const now = Date.now();
  // A rename counts for the window plus the margin, on the run path as on the timer's.
  const recent = (state?.renameTimes ?? [])
    .filter((at) => at > now - RENAME_WINDOW_MS - RENAME_MARGIN_MS)
    .sort((a, b) => a - b);
  if (text === state?.renderedText) {
    // Back to what the channel shows: nothing to send, and nothing to hold any more.
    if (state.pendingText !== null) {
      saveCounterState(db, { taskId, pendingText: null, renameTimes: recent });
      renames.clear(taskId);
    }
    return;
  }
  const opensAt = renameOpensAt(recent, store.get<number>(BLOCKED_KEY) ?? null, now);
  if (opensAt > now) {
    holdRename(deps, text, recent, opensAt);
    return;
  }
  const channel = client.channels.cache.get(channelId);
  if (!channel || channel.isDMBased() || channel.isThread()) {
    throw new Error(`the channel ${channelId} no longer exists or the bot cannot see it`);
  }
  // Discord's rename has no abort; a cancelled run at least sends nothing new.
  deps.signal?.throwIfAborted();
  try {
    await channel.setName(text, 'Metronome counter');
  } catch (error) {
    // The client rejects a channel edit's 429 instead of waiting minutes in the run (createClient): someone
    // else's renames spent the channel's budget. Hold the rename until Discord says the budget is back.
    if (!(error instanceof RateLimitError)) throw error;
    const retryAfterMs = Number.isFinite(error.retryAfter) ? Math.max(error.retryAfter, 0) : RENAME_WINDOW_MS;
    const blockedUntil = Date.now() + retryAfterMs + RENAME_MARGIN_MS;
    store.set(BLOCKED_KEY, blockedUntil);
    holdRename(deps, text, recent, blockedUntil, 'Discord answered 429');
    return;
  }
  // Dated after Discord answered: later than Discord's own record, so our window never opens early.
  saveCounterState(db, {
    taskId,
    renderedText: text,
    pendingText: null,
    renameTimes: [...recent, Date.now()],
  });
  store.delete(BLOCKED_KEY);
  renames.clear(taskId);
  // The one signal that a rename is applied and saved, run or held timer alike (tests wait for it).
  deps.log.info({ taskId, text }, 'counter channel renamed');
}

/** Records `text` as the held rename (latest value wins) and arms the timer that applies it at `opensAt`. */
function holdRename(
  deps: RenameDeps,
  text: string,
  recent: number[],
  opensAt: number,
  reason = 'our record of recent renames',
): void {
  saveCounterState(deps.db, { taskId: deps.taskId, pendingText: text, renameTimes: recent });
  armHeldTimer(deps, text, opensAt);
  deps.log.info(
    { text, opensAt: new Date(opensAt).toISOString(), reason },
    'counter rename held by the rate limit',
  );
}

function armHeldTimer(deps: RenameDeps, text: string, opensAt: number): void {
  const { taskId, renames } = deps;
  renames.clear(taskId);
  const waitMs = Math.min(Math.max(opensAt - Date.now(), 0), HELD_HALT_CHECK_MS);
  const timer = setTimeout(() => void onHeldTimer({ ...deps, signal: undefined }, opensAt, timer), waitMs);
  timer.unref?.();
  renames.set(taskId, { timer, deps, text, opensAt });
}

/** The held rename's timer: drops it if the task halted, waits on if the window is still shut, else applies it. */
async function onHeldTimer(
  deps: RenameDeps,
  opensAt: number,
  timer: ReturnType<typeof setTimeout>,
): Promise<void> {
  const { renames, taskId } = deps;
  const ours = () => renames.get(taskId)?.timer === timer;
  try {
    await renames.lock.run(taskId, async () => {
      // A run re-held (or applied) the rename meanwhile: its timer speaks for it now.
      if (!ours()) return;
      const pending = getCounterState(deps.db, taskId)?.pendingText ?? null;
      // Stopped, cancelled or deleted since: the next run (if any) renders afresh.
      if (!deps.tasks.isRunning(taskId) || pending === null) {
        dropHeldRename(deps);
        return;
      }
      if (Date.now() < opensAt) {
        armHeldTimer(deps, pending, opensAt);
        return;
      }
      await renameWithinLimit(deps, pending);
    });
  } catch (error) {
    deps.log.warn({ err: error, taskId }, 'held counter rename failed; the next run retries');
  } finally {
    if (ours()) renames.clear(taskId);
  }
}

/** Forgets a held rename: its timer and counter_state.pendingText. */
function dropHeldRename(deps: RenameDeps): void {
  deps.renames.clear(deps.taskId);
  // A deleted task's rows went with it (and a new row would break its foreign key).
  if (getCounterState(deps.db, deps.taskId)?.pendingText != null) {
    saveCounterState(deps.db, { taskId: deps.taskId, pendingText: null });
  }
}

/** A run aborted by cancel or delete drops its task's held rename now rather than at the next check. */
function dropHeldRenameOnHalt(deps: RenameDeps): void {
  if (deps.tasks.isRunning(deps.taskId)) return; // a timeout: the task runs on
  void deps.renames.lock
    .run(deps.taskId, async () => dropHeldRename(deps))
    .catch((error: unknown) =>
      deps.log.warn({ err: error, taskId: deps.taskId }, 'could not drop a held counter rename'),
    );
}
