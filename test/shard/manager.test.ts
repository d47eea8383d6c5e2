// The shard manager as `npm start` runs it (under tsx, as in development): SHARD_COUNT=auto asks the
// emulator, which recommends 2 shards, so two shard processes run under discord.js's ShardingManager. Every
// server is answered by its shard's process, every task runs once, the commands are registered once; a shard
// process killed with SIGKILL is started again, resumes its tasks and runs none twice; SIGTERM stops them all.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { type Emulator, shardOfGuild, startEmulator } from '../../emulator/index.js';
import { invoke, makeGuild } from '../commands/helpers.js';
import { commandPuts, createReminder, postsOf } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const MAIN = join(ROOT, 'src/main.ts');
/** Generous: three tsx processes start on a loaded machine. */
const WAIT_MS = 60_000;

interface LogLine {
  msg: string;
  shards?: number[];
  pid?: number;
  process?: number;
  resumed?: number;
  [key: string]: unknown;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** `npm start` (tsx on src/main.ts) in `dir` against the emulator, with `env` added; killed after the test. */
function startManager(
  emulator: Emulator,
  dir: string,
  env: Record<string, string>,
): { manager: ChildProcess; exit: Promise<number | null> } {
  const manager = spawn(TSX, [MAIN], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      DISCORD_TOKEN: emulator.token,
      DISCORD_API_BASE: emulator.apiBase,
      DATABASE_PATH: './bot.db',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exit = new Promise<number | null>((resolve) => manager.once('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (manager.exitCode === null && manager.signalCode === null) manager.kill('SIGKILL');
    await exit;
  });
  return { manager, exit };
}

/** The manager's stdout (its children write there too), as parsed lines one can wait for. */
function watchLines(child: ChildProcess): {
  lines: LogLine[];
  waitFor(test: (line: LogLine) => boolean): Promise<LogLine>;
} {
  const lines: LogLine[] = [];
  const waiters: { test: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text };
    }
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.test(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const waitFor = (test: (line: LogLine) => boolean) => {
    const seen = lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no such line after ${WAIT_MS} ms:\n${lines.map((l) => l.msg).join('\n')}`)),
        WAIT_MS,
      );
      const settle = (line: LogLine) => {
        clearTimeout(timer);
        resolve(line);
      };
      waiters.push({ test, resolve: settle });
    });
  };
  return { lines, waitFor };
}

it('runs 2 shards in 2 processes, restarts a killed one without a second run, and stops all on SIGTERM', async () => {
  const emulator = await startEmulator({ recommendedShards: 2, sessionStartLimit: { maxConcurrency: 2 } });
  cleanups.push(() => emulator.close());
  const guilds = Array.from({ length: 4 }, (_, i) => makeGuild(emulator, `g${i}`));
  const onShard = (shard: number) => guilds.filter((guild) => shardOfGuild(guild.id, 2) === shard);
  expect(onShard(0)).toHaveLength(2);
  const dir = mkdtempSync(join(tmpdir(), 'metronome-manager-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

  const { manager, exit } = startManager(emulator, dir, { SHARD_COUNT: 'auto' });
  const { lines, waitFor } = watchLines(manager);
  const resumedBy = (shard: number, after = 0) =>
    waitFor(
      (line) => line.msg === 'tasks resumed' && line.shards?.[0] === shard && lines.indexOf(line) >= after,
    );

  await waitFor((line) => line.msg === 'every shard process is ready');
  await Promise.all([resumedBy(0), resumedBy(1)]);
  expect(lines.find((line) => line.msg === 'running 2 shards in 2 processes')).toBeDefined();

  // Every server is answered (by its shard's process: the emulator sends it nowhere else), each task runs once.
  await Promise.all(guilds.map((guild) => createReminder(emulator, guild)));
  expect(commandPuts(emulator)).toBe(1);

  // SIGKILL shard 1's process: the manager says so and starts it again, which resumes shard 1's two tasks.
  const started = lines.find((line) => line.msg === 'started the process of shard 1 of 2');
  expect(started?.pid).toBeTypeOf('number');
  const mark = lines.length;
  process.kill(started!.pid!, 'SIGKILL');
  await waitFor((line) =>
    line.msg.startsWith('the process of shard 1 of 2 died (killed by SIGKILL); starting it again'),
  );
  const resumed = await resumedBy(1, mark);
  expect(resumed.resumed).toBe(onShard(1).length);

  // Answered again on both shards; no reminder ran twice (each is hourly and has just run).
  for (const guild of guilds) await invoke(emulator, 'list', {}, { guild });
  expect(guilds.map((guild) => postsOf(emulator, guild))).toEqual([1, 1, 1, 1]);
  expect(commandPuts(emulator)).toBe(1);

  manager.kill('SIGTERM');
  expect(await exit).toBe(0);
  const stopped = lines.filter((line) => line.msg === 'stopped');
  expect(stopped.map((line) => line.shards ?? 'manager')).toEqual(
    expect.arrayContaining([[0], [1], 'manager']),
  );
  expect(stopped).toHaveLength(3);
}, 180_000);

it('runs 4 shards in 2 processes of 2 (SHARDS_PER_PROCESS=2): every server answered, every task run once', async () => {
  const emulator = await startEmulator({ sessionStartLimit: { maxConcurrency: 4 } });
  cleanups.push(() => emulator.close());
  const guilds = Array.from({ length: 8 }, (_, i) => makeGuild(emulator, `g${i}`));
  for (let shard = 0; shard < 4; shard++) {
    expect(guilds.filter((guild) => shardOfGuild(guild.id, 4) === shard)).toHaveLength(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'metronome-manager-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

  const { manager, exit } = startManager(emulator, dir, { SHARD_COUNT: '4', SHARDS_PER_PROCESS: '2' });
  const { lines, waitFor } = watchLines(manager);
  await waitFor((line) => line.msg === 'every shard process is ready');
  expect(lines.find((line) => line.msg === 'running 4 shards in 2 processes')).toBeDefined();
  const resumed = await Promise.all(
    [
      [0, 1],
      [2, 3],
    ].map((ids) => waitFor((line) => line.msg === 'tasks resumed' && String(line.shards) === String(ids))),
  );
  expect(resumed).toHaveLength(2);

  await Promise.all(guilds.map((guild) => createReminder(emulator, guild)));
  for (const guild of guilds) await invoke(emulator, 'list', {}, { guild });
  expect(guilds.map((guild) => postsOf(emulator, guild))).toEqual(Array(8).fill(1));
  expect(commandPuts(emulator)).toBe(1);
  expect([...emulator.gateway.connectedShards()].sort()).toEqual([0, 1, 2, 3]);

  manager.kill('SIGTERM');
  expect(await exit).toBe(0);
  expect(lines.filter((line) => line.msg === 'stopped')).toHaveLength(3);
}, 180_000);
