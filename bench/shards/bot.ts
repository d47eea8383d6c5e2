// The bot as production runs it, for the shards bench: `node dist/main.js` (the compiled build) in a process
// group of its own, its JSON log lines read as they come, its shard processes found as its children, their
// RSS read from /proc, and every process of the group ended however the bench ends.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface LogLine {
  time: number;
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface ShardProcess {
  /** The latest process's pid (the manager starts a dead one again). */
  pid: number;
  /** The manager's words for it, e.g. "shard 1 of 4". */
  shards: string;
  /** When the manager first started it. */
  spawnedAt: number;
  /** How many times the manager started it again, and the fatal lines its processes ended with. */
  restarts: number;
  failures: string[];
  /** When its latest process logged "connected to Discord" (every GUILD_CREATE of its shards received). */
  connectedAt?: number;
  /** When it logged "tasks resumed", and how many it resumed. */
  resumedAt?: number;
  resumed?: number;
}

export interface BotOptions {
  root: string;
  cwd: string;
  env: Record<string, string>;
  /** Node's own flags for the manager; the manager passes its execArgv on to its shard processes. */
  nodeArgs?: string[];
}

const FATAL = 60;
/** How many of the bot's last log lines a failure quotes. */
const TAIL = 15;

/** Every running bench bot, ended by the bench's exit handlers whatever happens. */
const running = new Set<BotProcess>();

/** Ends every process group still running; safe to call from an exit handler (synchronous). */
export function killAllBots(): void {
  for (const bot of running) bot.kill();
}

export class BotProcess {
  readonly child: ChildProcess;
  readonly shards = new Map<string, ShardProcess>();
  readonly #tail: string[] = [];
  readonly #waiters: { test: () => boolean; resolve: () => void }[] = [];
  #exited: string | undefined;
  #fatal: string | undefined;

  constructor({ root, cwd, env, nodeArgs = [] }: BotOptions) {
    // A group of its own (detached): the manager's shard processes are in it, so one kill reaches them all.
    this.child = spawn(process.execPath, [...nodeArgs, join(root, 'dist/main.js')], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this);
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.#onLine(line));
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.#remember(`stderr: ${line}`));
    this.child.on('exit', (code, signal) => {
      this.#exited = signal === null ? `exit code ${code}` : `signal ${signal}`;
      running.delete(this);
      this.#check();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves once `count` shard processes have logged "tasks resumed"; rejects if the bot dies or fails. */
  whenResumed(count: number, timeoutMs: number): Promise<void> {
    return this.#until(
      () => [...this.shards.values()].filter((shard) => shard.resumedAt !== undefined).length >= count,
      timeoutMs,
      `${count} shard processes to resume their tasks`,
    );
  }

  /** The pids of the manager's children, from /proc (what `ps --ppid` lists). */
  childPids(): number[] {
    try {
      return readFileSync(`/proc/${this.pid}/task/${this.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter((pid) => pid !== '')
        .map(Number);
    } catch {
      return [];
    }
  }

  /** Asks the manager to stop (SIGTERM: it stops its shard processes gracefully); kills the group past the wait. */
  async stop(waitMs: number): Promise<string> {
    if (this.#exited !== undefined) return this.#exited;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), waitMs);
    });
    const how = await Promise.race([exited.then(() => 'stopped' as const), late]);
    clearTimeout(timer);
    if (how === 'late') {
      this.kill();
      await exited;
      return `killed after ${waitMs / 1000} s without stopping`;
    }
    return this.#exited!;
  }

  /** SIGKILL to the whole group: the manager and every shard process. */
  kill(): void {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  }

  /** The last lines the bot wrote, for a failure's message. */
  tail(): string {
    return this.#tail.join('\n');
  }

  #onLine(text: string): void {
    this.#remember(text);
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    if (line.msg.startsWith('started the process of ') && typeof line.pid === 'number') {
      const shards = line.msg.slice('started the process of '.length);
      const known = this.shards.get(shards);
      if (known === undefined) {
        this.shards.set(shards, { pid: line.pid, shards, spawnedAt: line.time, restarts: 0, failures: [] });
      } else {
        known.pid = line.pid;
        known.restarts++;
      }
    } else if (line.msg === 'connected to Discord') {
      const shard = this.#shardOf(line);
      if (shard) shard.connectedAt = line.time;
    } else if (line.msg === 'tasks resumed' && typeof line.scope === 'string') {
      const shards = line.scope.replace(/^the servers of /, '');
      const shard = this.shards.get(shards);
      if (shard) {
        shard.resumedAt = line.time;
        shard.resumed = line.resumed as number;
      }
    } else if (line.level >= FATAL) {
      // A shard process's fatal line is not the end: the manager starts it again, and the bench waits.
      const shard = this.#shardOf(line);
      const error = (line.err as { message?: string } | undefined)?.message;
      const text = error === undefined ? line.msg : `${line.msg}: ${error}`;
      if (shard) shard.failures.push(text);
      else this.#fatal = text;
    }
    this.#check();
  }

  /** The shard process a child's line comes from, by its `shards` field (the ids it runs). */
  #shardOf(line: LogLine): ShardProcess | undefined {
    const ids = line.shards;
    if (!Array.isArray(ids)) return undefined;
    const prefix = `shard${ids.length > 1 ? 's' : ''} ${ids.join(', ')} of`;
    return [...this.shards.values()].find((known) => known.shards.startsWith(prefix));
  }

  #remember(text: string): void {
    this.#tail.push(text.length > 400 ? `${text.slice(0, 400)}…` : text);
    if (this.#tail.length > TAIL) this.#tail.shift();
  }

  #check(): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.test() || this.#exited !== undefined || this.#fatal !== undefined) waiter.resolve();
    }
  }

  #until(test: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new Error(`waited ${timeoutMs / 1000} s for ${what}; the bot's last lines:\n${this.tail()}`));
      }, timeoutMs);
      const waiter = {
        test,
        resolve: () => {
          done();
          if (test()) resolve();
          else {
            const why = this.#fatal ?? `the bot ended (${this.#exited})`;
            reject(new Error(`${why} before ${what}; its last lines:\n${this.tail()}`));
          }
        },
      };
      const done = () => {
        clearTimeout(timer);
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      };
      this.#waiters.push(waiter);
      this.#check();
    });
  }
}

/** A process's resident memory from /proc (VmRSS), in bytes; undefined once it is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * The CPU time a process has used (user + system), in ms, from /proc/<pid>/stat; 0 once it is gone. Unlike
 * a rate, CPU per fire moves little when other processes load the machine.
 */
export function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), from field 3: utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Whether a process still exists (a zombie not yet reaped counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
