// What the chaos run knows about each task from the answers it got. Every /task command the bot answered is
// a promise it made ("Stopped p12"); a command it never answered (killed first) may or may not have
// happened, so the task's state becomes unknown until a later answer settles it again. Task names are never
// reused, so a name that comes back after its delete was acknowledged is a deleted task back.
import type { OptionValue } from '../../emulator/index.js';
import type { Random } from './random.js';
import type { ChaosServer } from './servers.js';

export type Kind = 'chaospost' | 'reminder' | 'counter' | 'leaderboard';
export type TaskState = 'running' | 'stopped' | 'cancelled' | 'failed' | 'completed';

export interface TaskModel {
  server: ChaosServer;
  name: string;
  kind: Kind;
  count: number | null;
  presence: 'present' | 'absent' | 'unknown';
  /** The states the stored row may be in, given the answers so far; null while an outcome is unknown. */
  states: TaskState[] | null;
  /** The interval the row must hold, or null while an interval change's outcome is unknown. */
  everySeconds: number | null;
  /** Its delete was acknowledged. */
  deleted: boolean;
  /** Its create was refused with a sentence (so nothing may have been stored). */
  refused: boolean;
  /** A command for it is in flight: one at a time, so answers apply in order. */
  busy: boolean;
  /** From `at` on it is halted (an acknowledged stop, cancel or delete) or may run (a start or restart sent). */
  timeline: { at: number; halted: boolean }[];
  /** When a cancel or restart was sent: an aborted run does not count, so its iteration may post again. */
  resets: number[];
  /** Each command sent for it and its answer, for the report of a problem. */
  history: string[];
}

/** One /task command to send, and what its answer (or its lack of one) teaches. */
export interface CommandPlan {
  path: string;
  options: Record<string, OptionValue>;
  task: TaskModel | null;
  /** Called just before it is sent. */
  sent(at: number): void;
  /** The reply's text, or null if the bot never answered (it was killed first). */
  answered(reply: string | null, at: number): void;
}

const MAX_TASKS_PER_SERVER = 14;
const HISTORY_LINES = 40;
const EVERY = ['10s', '10s', '15s', '20s'] as const;
const PREFIX: Record<Kind, string> = { chaospost: 'p', reminder: 'r', counter: 'c', leaderboard: 'l' };

export const seconds = (every: string): number => Number(every.slice(0, -1));

export class ChaosModel {
  readonly tasks: TaskModel[] = [];
  #serial = 0;

  /** Adds a line to a task's history, keeping the last few dozen. */
  note(task: TaskModel, line: string): void {
    task.history.push(line);
    if (task.history.length > HISTORY_LINES) task.history.shift();
  }

  /**
   * The next command for this server, or null if every task of it has a command in flight. Each server draws
   * from its own PRNG, so its sequence of commands does not depend on how the others interleave.
   */
  plan(server: ChaosServer, random: Random): CommandPlan | null {
    const mine = this.tasks.filter((t) => t.server === server && t.presence !== 'absent');
    const idle = mine.filter((t) => !t.busy);
    const unknown = idle.find((t) => t.presence === 'unknown');
    // Settle a task whose create or delete went unanswered: a delete's answer says whether it existed.
    if (unknown) return this.#delete(unknown);
    const createWeight = mine.length < 6 ? 60 : mine.length < MAX_TASKS_PER_SERVER ? 20 : 0;
    const choice = random.weighted({ create: createWeight, list: 3, task: idle.length > 0 ? 80 : 0 });
    if (choice === 'create') return this.#create(server, random);
    if (choice === 'list') return { path: 'list', options: {}, task: null, sent() {}, answered() {} };
    const task = random.pick(idle);
    // A restart starts the count again from zero and reuses iteration numbers: only for tasks where
    // neither is checked.
    const restartable = task.count === null && task.kind !== 'chaospost';
    const action = random.weighted({
      start: 18,
      stop: 18,
      cancel: 10,
      delete: 6,
      interval: 10,
      restart: restartable ? 8 : 0,
      info: 6,
    });
    switch (action) {
      case 'delete':
        return this.#delete(task);
      case 'interval':
        return this.#interval(task, random);
      case 'info':
        return this.#command(task, 'info', {}, () => {});
      default:
        return this.#stateChange(task, action);
    }
  }

  #create(server: ChaosServer, random: Random): CommandPlan {
    const kind = random.weighted<Kind>({ chaospost: 50, reminder: 25, counter: 12, leaderboard: 13 });
    const name = `${PREFIX[kind]}${++this.#serial}`;
    const every = random.pick(EVERY);
    const count =
      (kind === 'chaospost' || kind === 'reminder') && random.next() < 0.5 ? random.int(1, 3) : null;
    const options: Record<string, OptionValue> = {
      name,
      channel: random.pick(server.channels),
      every,
      ...(count === null ? {} : { count }),
      // A late run at start-up: what runs right after a restart, where a crash's repeat shows first.
      ...(random.next() < 0.5 ? { catchup: 'once' } : {}),
    };
    if (kind === 'chaospost') options.pause = random.int(0, 400);
    if (kind === 'reminder') options.message = `reminder ${name}`;
    if (kind === 'counter')
      Object.assign(options, { template: `{members} members in ${name}`, target: 'message' });
    if (kind === 'leaderboard')
      Object.assign(options, { title: `board ${name}`, size: 3, period: random.pick(['all', 'day']) });
    const task: TaskModel = {
      server,
      name,
      kind,
      count,
      presence: 'unknown',
      states: null,
      everySeconds: seconds(every),
      deleted: false,
      refused: false,
      busy: false,
      timeline: [],
      resets: [],
      history: [],
    };
    this.tasks.push(task);
    return this.#command(task, `create ${kind}`, options, (reply) => {
      if (reply === null) return; // unknown: the next plan for this server settles it with a delete
      if (reply.startsWith(`Created **${name}**`)) {
        task.presence = 'present';
        task.states = runningStates(task);
      } else {
        task.presence = 'absent';
        task.refused = true;
      }
    });
  }

  #delete(task: TaskModel): CommandPlan {
    return this.#command(task, 'delete', {}, (reply, at) => {
      if (reply === null) {
        task.presence = 'unknown';
        task.states = null;
      } else if (reply.startsWith(`Deleted **${task.name}**`)) {
        task.presence = 'absent';
        task.deleted = true;
        task.timeline.push({ at, halted: true });
      } else if (task.presence === 'unknown' && /no task named/i.test(reply)) {
        // Its create never happened: settled, nothing to check.
        task.presence = 'absent';
      }
    });
  }

  #interval(task: TaskModel, random: Random): CommandPlan {
    const every = random.pick(EVERY);
    return this.#command(task, 'interval', { every }, (reply) => {
      if (reply === null) task.everySeconds = null;
      else if (reply.startsWith(`**${task.name}** now runs`)) task.everySeconds = seconds(every);
    });
  }

  #stateChange(task: TaskModel, action: 'start' | 'stop' | 'cancel' | 'restart'): CommandPlan {
    const done = { start: 'Started', stop: 'Stopped', cancel: 'Cancelled', restart: 'Restarted' }[action];
    const plan = this.#command(task, action, {}, (reply, at) => {
      if (reply === null) {
        task.states = null;
        return;
      }
      if (!reply.startsWith(`${done} **${task.name}**`)) return; // refused: nothing changed
      // A graceful stop lets the run in flight finish; if that was the last of its count, it completes.
      if (action === 'stop') task.states = task.count === null ? ['stopped'] : ['stopped', 'completed'];
      else if (action === 'cancel') task.states = ['cancelled'];
      else task.states = runningStates(task);
      if (action === 'stop' || action === 'cancel') task.timeline.push({ at, halted: true });
    });
    const sent = plan.sent;
    plan.sent = (at) => {
      sent(at);
      if (action === 'start' || action === 'restart') task.timeline.push({ at, halted: false });
      if (action === 'cancel' || action === 'restart') task.resets.push(at);
    };
    return plan;
  }

  #command(
    task: TaskModel,
    path: string,
    options: Record<string, OptionValue>,
    answered: (reply: string | null, at: number) => void,
  ): CommandPlan {
    const note = (line: string) => this.note(task, line);
    return {
      path,
      options: path.startsWith('create') ? options : { name: task.name, ...options },
      task,
      sent(at) {
        task.busy = true;
        note(`${at} ${path}${path === 'interval' ? ` ${String(options.every)}` : ''}`);
      },
      answered(reply, at) {
        task.busy = false;
        note(`${at}   → ${reply === null ? 'no answer' : reply.slice(0, 60)}`);
        answered(reply, at);
      },
    };
  }
}

function runningStates(task: TaskModel): TaskState[] {
  return task.count === null ? ['running'] : ['running', 'completed'];
}
