// The checks after each cycle: the database as the killed bot left it, against what the bot acknowledged,
// and every message the emulator ever created (deleted ones and expired nonce windows included).
import Database from 'better-sqlite3';
import type { APIMessage } from 'discord-api-types/v10';
import type { Emulator } from '../../emulator/index.js';
import type { ChaosModel, TaskModel, TaskState } from './model.js';
import { parsePostText } from './post-text.js';

export const PROBLEM_KINDS = [
  'integrity failures',
  'tasks lost',
  'deleted back',
  'commands lost',
  'double posts',
  'counts exceeded',
] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

/** Problems found so far, each counted once however many cycles see it again. */
export class Problems {
  readonly #found = new Map<string, { kind: ProblemKind; detail: string }>();
  readonly #fresh: string[] = [];

  add(kind: ProblemKind, key: string, detail: string): void {
    const id = `${kind}:${key}`;
    if (this.#found.has(id)) return;
    this.#found.set(id, { kind, detail });
    this.#fresh.push(`${kind}: ${detail}`);
  }

  count(kind: ProblemKind): number {
    let n = 0;
    for (const problem of this.#found.values()) if (problem.kind === kind) n++;
    return n;
  }

  get total(): number {
    return this.#found.size;
  }

  /** Descriptions of the problems found since the last call. */
  takeFresh(): string[] {
    return this.#fresh.splice(0);
  }
}

interface TaskRow {
  id: number;
  guild_id: string;
  name: string;
  state: string;
  count: number | null;
  current_loop: number;
  schedule: string;
}

export interface DatabaseView {
  integrity: string;
  rows: Map<string, TaskRow>;
  /** `${taskId}@${scheduledAt}` of every recorded run. */
  runs: Set<string>;
  /** Write-ahead records of runs in flight (none before that table exists). */
  intents: number;
}

const rowKey = (guildId: string, name: string) => `${guildId}/${name}`;

/** Reads what the chaos checks need; the bot must not be running (its lock is not taken here). */
export function readDatabase(path: string): DatabaseView {
  const sqlite = new Database(path, { fileMustExist: true });
  try {
    const integrity = (sqlite.pragma('integrity_check') as { integrity_check: string }[])
      .map((row) => row.integrity_check)
      .join('; ');
    const rows = new Map<string, TaskRow>();
    for (const row of sqlite
      .prepare('SELECT id, guild_id, name, state, count, current_loop, schedule FROM tasks')
      .all() as TaskRow[])
      rows.set(rowKey(row.guild_id, row.name), row);
    const runs = new Set(
      (
        sqlite.prepare('SELECT task_id, scheduled_at FROM task_runs').all() as {
          task_id: number;
          scheduled_at: number;
        }[]
      ).map((run) => `${run.task_id}@${run.scheduled_at}`),
    );
    const hasIntents =
      sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_intents'").get() !==
      undefined;
    const intents = hasIntents
      ? (sqlite.prepare('SELECT count(*) FROM run_intents').pluck().get() as number)
      : 0;
    return { integrity, rows, runs, intents };
  } finally {
    sqlite.close();
  }
}

/** A post the bot made, attributed to the task that made it. */
export interface Post {
  task: string;
  kind: 'chaospost' | 'reminder' | 'counter' | 'leaderboard';
  nonce: string | null;
  at: number;
  /** For chaospost: the iteration and slot the handler wrote. */
  iteration?: number;
  slotMs?: number;
}

/** Every message the bot ever created in a channel, attributed by the text each kind writes. */
export function botPosts(emulator: Emulator): Post[] {
  const posts: Post[] = [];
  for (const entry of emulator.world.messageLog.entries) {
    if (entry.kind !== 'create' || entry.message.author.id !== emulator.world.botUser.id) continue;
    const post = attribute(entry.message);
    if (post) posts.push({ ...post, nonce: nonceOf(entry.message), at: entry.at });
  }
  return posts;
}

function attribute(message: APIMessage): Omit<Post, 'nonce' | 'at'> | null {
  const chaos = parsePostText(message.content);
  if (chaos) return { task: chaos.name, kind: 'chaospost', iteration: chaos.iteration, slotMs: chaos.slotMs };
  const reminder = /^reminder (\S+)$/.exec(message.content);
  if (reminder) return { task: reminder[1]!, kind: 'reminder' };
  const counter = / members in (\S+)$/.exec(message.content);
  if (counter) return { task: counter[1]!, kind: 'counter' };
  const board = /^board (\S+)$/.exec(message.embeds[0]?.title ?? '');
  if (board) return { task: board[1]!, kind: 'leaderboard' };
  return null;
}

const nonceOf = (message: APIMessage): string | null =>
  message.nonce === undefined ? null : String(message.nonce);

/** Checks the stored tasks against the acknowledged commands. */
export function checkDatabase(db: DatabaseView, model: ChaosModel, problems: Problems, cycle: number): void {
  if (db.integrity !== 'ok')
    problems.add('integrity failures', `cycle ${cycle}`, `cycle ${cycle}: ${db.integrity}`);
  for (const task of model.tasks) {
    const row = db.rows.get(rowKey(task.server.id, task.name));
    const where = `${task.server.name}/${task.name}`;
    if (task.presence === 'present' && !row)
      problems.add('tasks lost', where, `${where} was created and is gone`);
    if (task.presence !== 'absent' || !row) {
      if (row && task.presence === 'present') checkRow(task, row, where, problems);
      continue;
    }
    if (task.deleted) problems.add('deleted back', where, `${where} was deleted and is back (${row.state})`);
    else if (task.refused)
      problems.add('commands lost', `${where} refused`, `${where}'s create was refused, yet it exists`);
  }
}

function checkRow(task: TaskModel, row: TaskRow, where: string, problems: Problems): void {
  if (task.states && !task.states.includes(row.state as TaskState)) {
    problems.add(
      'commands lost',
      `${where} state ${task.states.join('|')} ${row.state}`,
      `${where} is ${row.state}; the acknowledged commands left it ${task.states.join(' or ')}${story(task)}`,
    );
  }
  const schedule = JSON.parse(row.schedule) as { kind: string; seconds?: number };
  if (
    task.everySeconds !== null &&
    (schedule.kind !== 'interval' || schedule.seconds !== task.everySeconds)
  ) {
    problems.add(
      'commands lost',
      `${where} every ${task.everySeconds}`,
      `${where} runs ${row.schedule}; the acknowledged interval was every ${task.everySeconds}s`,
    );
  }
  if (row.count !== null && row.current_loop > row.count) {
    problems.add('counts exceeded', `${where} row`, `${where} has ${row.current_loop} runs of ${row.count}`);
  }
}

/**
 * At the end, once the bot stopped gracefully: a completed task ran its whole count. (A run that completes
 * the count during the graceful stop may leave the row running; the next start completes it.)
 */
export function checkCompletion(db: DatabaseView, model: ChaosModel, problems: Problems): void {
  for (const task of model.tasks) {
    const row = db.rows.get(rowKey(task.server.id, task.name));
    if (!row || row.count === null || row.state !== 'completed' || row.current_loop >= row.count) continue;
    const where = `${task.server.name}/${task.name}`;
    problems.add(
      'counts exceeded',
      `${where} completion`,
      `${where} is completed after ${row.current_loop} runs of ${row.count}`,
    );
  }
}

/** Double posts and counts, over every message the emulator ever created. */
export function checkPosts(posts: readonly Post[], model: ChaosModel, problems: Problems): void {
  const byNonce = new Map<string, Post[]>();
  for (const post of posts) {
    if (post.nonce === null) continue;
    byNonce.set(post.nonce, [...(byNonce.get(post.nonce) ?? []), post]);
  }
  for (const [nonce, same] of byNonce) {
    if (same.length > 1)
      problems.add(
        'double posts',
        `nonce ${nonce}`,
        `${same[0]!.task}: ${same.length} posts with nonce ${nonce}`,
      );
  }

  const tasks = new Map(model.tasks.map((task) => [task.name, task]));
  const byTask = new Map<string, Post[]>();
  for (const post of posts) byTask.set(post.task, [...(byTask.get(post.task) ?? []), post]);
  for (const [name, own] of byTask) {
    const task = tasks.get(name);
    if (!task) continue;
    if (task.kind === 'counter' || task.kind === 'leaderboard') {
      // Each keeps one message and edits it; none is ever deleted here, so a second one is a double post.
      if (own.length > 1)
        problems.add(
          'double posts',
          `${name} keeper`,
          `${name} (${task.kind}) posted ${own.length} messages (${own.map((p) => `at ${p.at} nonce ${p.nonce}`).join(', ')})${story(task)}`,
        );
      continue;
    }
    if (task.count !== null && own.length > task.count) {
      problems.add(
        'counts exceeded',
        `${name} posts`,
        `${name} posted ${own.length} times with count ${task.count} (${own.map(describePost).join(', ')})${story(task)}`,
      );
    }
    if (task.kind === 'chaospost') checkIterations(task, own, problems);
  }
}

/**
 * The same iteration posted twice is the slot a crash interrupted run again under a new slot, unless a
 * cancel or restart came between (an aborted run does not count, so its iteration runs again). A post for a
 * slot after an acknowledged stop, cancel or delete, with no start since, is a command lost.
 */
function checkIterations(task: TaskModel, own: readonly Post[], problems: Problems): void {
  const byIteration = new Map<number, Post[]>();
  for (const post of own)
    byIteration.set(post.iteration!, [...(byIteration.get(post.iteration!) ?? []), post]);
  for (const [iteration, same] of byIteration) {
    for (let i = 1; i < same.length; i++) {
      const [before, after] = [same[i - 1]!, same[i]!];
      if (task.resets.some((at) => at >= before.at && at <= after.at)) continue;
      problems.add(
        'double posts',
        `${task.name}#${iteration}`,
        `${task.name} posted iteration ${iteration} for slots ${before.slotMs} and ${after.slotMs}${story(task)}`,
      );
    }
  }
  for (const post of own) {
    const last = task.timeline.filter((mark) => mark.at <= post.slotMs!).at(-1);
    if (last?.halted) {
      problems.add(
        'commands lost',
        `${task.name} halted ${post.slotMs}`,
        `${task.name} posted for slot ${post.slotMs}, after it was stopped at ${last.at}${story(task)}`,
      );
    }
  }
}

/** Runs in flight when the bot was killed: a post without its run's record, or a write-ahead record. */
export function runsInFlight(db: DatabaseView, postsThisCycle: readonly Post[], model: ChaosModel): number {
  const tasks = new Map(model.tasks.map((task) => [task.name, task]));
  let unrecorded = 0;
  for (const post of postsThisCycle) {
    const task = tasks.get(post.task);
    if (post.kind !== 'chaospost' || !task) continue;
    const row = db.rows.get(rowKey(task.server.id, task.name));
    if (row && !db.runs.has(`${row.id}@${post.slotMs}`)) unrecorded++;
  }
  return Math.max(unrecorded, db.intents);
}

function describePost(post: Post): string {
  const slot = post.slotMs === undefined ? '' : ` #${post.iteration} slot ${post.slotMs}`;
  return `at ${post.at}${slot} nonce ${post.nonce}`;
}

/** A task's commands and answers, with the kills between them, for the report of a problem. */
function story(task: TaskModel): string {
  return task.history.length === 0 ? '' : `; its commands:\n    ${task.history.join('\n    ')}`;
}
