// Exactly once across real crashes: the bot (`src/main.ts`) runs as a child process against the emulator,
// which runs here; a handler fixture SIGKILLs its own process at one boundary of a run; a second process
// starts on the same database. Every post the emulator shows is counted per slot.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../emulator/index.js';
import { WaitableLog } from '../../emulator/log.js';
import { getTask, lastRuns, listRunIntents, openDatabase } from '../../src/db/index.js';
import { runNonce } from '../../src/tasks/index.js';
import { invoke, makeGuild, type TestGuild } from '../commands/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Node itself with tsx's loader, not the tsx wrapper, so the SIGKILL is seen as the bot's own end.
const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const MAIN = join(ROOT, 'src/main.ts');
const HANDLERS = fileURLToPath(new URL('./fixtures/kill-handlers', import.meta.url));
/** Generous: a start of the bot (tsx, migrations, login, command sync) takes seconds on a loaded machine. */
const STEP_MS = 60_000;

type Line = Record<string, unknown> & { msg?: string };

interface BotProcess {
  child: ChildProcess;
  /** Its log lines (pino JSON), to wait on. */
  log: WaitableLog<Line>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startBotProcess(emulator: Emulator, dir: string, env: Record<string, string> = {}): BotProcess {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, MAIN], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      DISCORD_TOKEN: emulator.token,
      DISCORD_API_BASE: emulator.apiBase,
      DATABASE_PATH: join(dir, 'bot.db'),
      HANDLERS_DIR: HANDLERS,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const log = new WaitableLog<Line>();
  let buffered = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line.startsWith('{')) log.push(JSON.parse(line) as Line);
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      if (stderr) log.push({ msg: 'stderr', stderr });
      resolve({ code, signal });
    });
  });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exit;
  });
  return { child, log, exit };
}

const waitForLog = (bot: BotProcess, what: string, predicate: (line: Line) => boolean) =>
  bot.log.waitFor(predicate, what, { timeoutMs: STEP_MS });

interface Scenario {
  /** The boundary the first process dies at, and in which iteration. */
  killAt: 'start' | 'post' | 'record';
  killIteration: number;
  count: number;
  nonceWindowMs?: number;
}

/**
 * Creates a `poster` task every 10 s with `count` through /task create, lets the first process die at the
 * boundary, starts a second one and lets it finish the task, then stops it with SIGTERM. Returns what the
 * emulator and the database saw.
 */
async function crashThenRecover({ killAt, killIteration, count, nonceWindowMs }: Scenario) {
  const emulator = await startEmulator(nonceWindowMs === undefined ? {} : { nonceWindowMs });
  cleanups.push(() => emulator.close());
  const guild: TestGuild = makeGuild(emulator, 'a');
  const channel = guild.channels.general!;
  const dir = mkdtempSync(join(tmpdir(), 'metronome-kill-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

  const first = startBotProcess(emulator, dir, { KILL_AT: killAt, KILL_ITERATION: String(killIteration) });
  await waitForLog(first, 'the first bot to start', (l) => l.msg === 'tasks resumed');
  const reply = await invoke(
    emulator,
    'create poster',
    { name: 'poster', channel, every: '10s', count },
    { guild },
  );
  expect(reply.content).toContain('Created **poster**');
  first.child.stdin!.write('die\n'); // the handler waits for this before it dies
  expect(await first.exit).toEqual({ code: null, signal: 'SIGKILL' });

  const second = startBotProcess(emulator, dir);
  const resumed = await waitForLog(second, 'the second bot to start', (l) => l.msg === 'tasks resumed');
  await waitForLog(
    second,
    `iteration ${count - 1} to post`,
    (l) => l.msg === 'poster posted' && l.iteration === count - 1,
  );
  second.child.kill('SIGTERM');
  expect(await second.exit).toEqual({ code: 0, signal: null });

  const conn = openDatabase(join(dir, 'bot.db'));
  try {
    const task = getTask(conn.db, guild.id, 'poster')!;
    const messages = emulator.world.messages(channel).filter((m) => m.message.content.startsWith('slot '));
    const postsPerSlot = new Map<string, number>();
    for (const m of messages)
      postsPerSlot.set(m.message.content, (postsPerSlot.get(m.message.content) ?? 0) + 1);
    return {
      task,
      resumed,
      runs: lastRuns(conn.db, task.id, 100)
        .reverse()
        .map((r) => r.outcome),
      intents: listRunIntents(conn.db),
      messages,
      postsPerSlot: [...postsPerSlot.values()],
      requests: emulator.requests.filter(
        (r) => r.method === 'POST' && r.path.endsWith(`/channels/${channel}/messages`),
      ),
    };
  } finally {
    conn.close();
  }
}

describe('a bot killed at each boundary of a run', () => {
  it(
    "the issue's reproduction: killed right after ctx.send, every 10s count 1: one post, task completed",
    async () => {
      const seen = await crashThenRecover({ killAt: 'post', killIteration: 0, count: 1 });
      expect(seen.resumed).toMatchObject({ replayed: 1, interrupted: 0 });
      // The slot ran twice with one nonce, and the emulator dropped the repeat: one visible post.
      expect(seen.requests).toHaveLength(2);
      expect(seen.messages).toHaveLength(1);
      expect(seen.messages[0]!.nonce).toBe(runNonce(seen.task.id, seen.task.lastRunAt!));
      expect(seen.task).toMatchObject({ state: 'completed', currentLoop: 1 });
      expect(seen.runs).toEqual(['ok']);
      expect(seen.intents).toEqual([]);
    },
    4 * STEP_MS,
  );

  it(
    'without the nonce dedupe the same crash shows two posts, so the check above can fail',
    async () => {
      const seen = await crashThenRecover({ killAt: 'post', killIteration: 0, count: 1, nonceWindowMs: 0 });
      expect(seen.postsPerSlot).toEqual([2]);
      expect(seen.task).toMatchObject({ state: 'completed', currentLoop: 1 });
    },
    4 * STEP_MS,
  );

  it(
    'killed once its start is committed, before it posts: the slot runs again and posts once',
    async () => {
      const seen = await crashThenRecover({ killAt: 'start', killIteration: 0, count: 1 });
      expect(seen.resumed).toMatchObject({ replayed: 1, interrupted: 0 });
      expect(seen.requests).toHaveLength(1);
      expect(seen.postsPerSlot).toEqual([1]);
      expect(seen.task).toMatchObject({ state: 'completed', currentLoop: 1 });
      expect(seen.runs).toEqual(['ok']);
      expect(seen.intents).toEqual([]);
    },
    4 * STEP_MS,
  );

  it(
    'killed once the run is recorded: nothing is replayed, the next slot posts, and count 2 is kept',
    async () => {
      const seen = await crashThenRecover({ killAt: 'record', killIteration: 0, count: 2 });
      expect(seen.resumed).toMatchObject({ resumed: 1, replayed: 0, interrupted: 0 });
      expect(seen.requests).toHaveLength(2);
      expect(seen.postsPerSlot).toEqual([1, 1]);
      expect(seen.task).toMatchObject({ state: 'completed', currentLoop: 2 });
      expect(seen.runs).toEqual(['ok', 'ok']);
      expect(seen.intents).toEqual([]);
    },
    4 * STEP_MS,
  );
});
