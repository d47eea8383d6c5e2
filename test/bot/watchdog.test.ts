// The watchdog, end to end: the real entry point (src/main.ts) as a child process against the emulator, with
// a custom handler that never yields. The worker thread must see the stall, name the task, end the process
// with exit 1 at the hard limit and leave the task failed, so that the next start does not run it again.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../emulator/index.js';
import { invoke, makeGuild, type TestGuild } from '../commands/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/main.ts');
const STALL_HANDLERS = fileURLToPath(new URL('./fixtures/stall-handlers', import.meta.url));
const SLOW_IMPORT_HANDLERS = fileURLToPath(new URL('./fixtures/slow-import-handlers', import.meta.url));

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A bot child process, its parsed stdout lines and its stderr. */
interface BotProcess {
  child: ChildProcess;
  lines: LogLine[];
  stderr: () => string;
  /** Resolves with the first log line matching, as soon as it is written. */
  waitForLine(match: (line: LogLine) => boolean): Promise<LogLine>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startBotProcess(
  emulator: Emulator,
  databasePath: string,
  env: Record<string, string>,
  handlersDir = STALL_HANDLERS,
): BotProcess {
  // node itself, not the tsx CLI, so that killing the child kills the bot (tsx would leave it running).
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      DISCORD_TOKEN: emulator.token,
      DISCORD_API_BASE: emulator.apiBase,
      DATABASE_PATH: databasePath,
      HANDLERS_DIR: handlersDir,
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exit;
  });
  const lines: LogLine[] = [];
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as LogLine;
    lines.push(line);
    for (const waiter of waiters.filter((w) => w.match(line))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const waitForLine = (match: (line: LogLine) => boolean) =>
    new Promise<LogLine>((resolve, reject) => {
      const found = lines.find(match);
      if (found) return resolve(found);
      waiters.push({ match, resolve });
      exit.then(() =>
        reject(new Error(`the bot exited first; stdout:\n${lines.map((l) => l.msg).join('\n')}\n${stderr}`)),
      );
    });
  return { child, lines, stderr: () => stderr, waitForLine, exit };
}

async function setUp(): Promise<{ emulator: Emulator; guild: TestGuild; databasePath: string }> {
  const emulator = await startEmulator();
  cleanups.push(() => emulator.close());
  const guild = makeGuild(emulator, 'Guild A');
  const dir = mkdtempSync(join(tmpdir(), 'metronome-watchdog-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { emulator, guild, databasePath: join(dir, 'bot.db') };
}

const started = (line: LogLine) => line.msg.includes('tasks resumed');

/** Creates the spinning task; its first run starts at once, posts, then blocks the bot for good. */
async function createSpinner(emulator: Emulator, guild: TestGuild, kind = 'spin'): Promise<void> {
  const posted = emulator.waitForMessage(
    guild.channels.general!,
    (message) => message.content.startsWith('spinning'),
    { timeoutMs: 15_000 },
  );
  // The reply may or may not leave before the loop blocks; the post tells us the run has begun.
  void invoke(
    emulator,
    `create ${kind}`,
    { name: 'spinner', channel: guild.channels.general!, every: '1h' },
    {
      guild,
    },
  ).catch(() => {});
  await posted;
}

function readTask(databasePath: string, name = 'spinner'): { state: string; last_error: string | null } {
  const sqlite = new Sqlite(databasePath, { readonly: true });
  try {
    return sqlite.prepare('SELECT state, last_error FROM tasks WHERE name = ?').get(name) as {
      state: string;
      last_error: string | null;
    };
  } finally {
    sqlite.close();
  }
}

describe('the watchdog', () => {
  it('names the task, ends the process with exit 1 at the hard limit, and the next start leaves it failed', async () => {
    const { emulator, guild, databasePath } = await setUp();
    const env = { WATCHDOG_WARN_SECONDS: '0.5', WATCHDOG_LIMIT_SECONDS: '3' };
    const bot = startBotProcess(emulator, databasePath, env);
    await bot.waitForLine(started);
    await createSpinner(emulator, guild);

    // A loaded machine can stall the bot past 0.5 s before the spinner runs (that warning names no run): wait
    // for the one that names it.
    const warning = await bot.waitForLine(
      (line) => line.msg.startsWith('the event loop has been blocked') && line.msg.includes('"spinner"'),
    );
    expect(warning.msg).toMatch(
      new RegExp(
        `^the event loop has been blocked for [\\d.]+ s; run in flight: "spinner" \\(spin, guild ${guild.id}\\)$`,
      ),
    );
    // Where the main thread is stuck: the handler module, read from its stack.
    expect((warning.stack as string[]).some((frame) => frame.includes('stall-handlers/spin.ts'))).toBe(true);

    const ended = await bot.exit;
    expect(ended).toMatchObject({ code: 1, signal: null });
    const fatal = bot.lines.find((line) => line.msg.startsWith('the event loop was blocked'));
    const outcome = `failed "spinner" (spin, guild ${guild.id}), so that it does not run again`;
    expect(fatal?.msg).toBe(
      `the event loop was blocked for 3 s: exiting (code 1) for a supervisor to restart the bot; ${outcome}`,
    );
    expect(bot.stderr()).toBe(
      `Metronome: the event loop was blocked for 3 s: exiting (code 1) for a supervisor to restart the bot; ${outcome}.\n`,
    );
    const error =
      'its run blocked the bot for 3 s (the bot restarted and stopped this task); fix the "spin" handler, ' +
      'then /task start spinner';
    expect(readTask(databasePath)).toEqual({ state: 'failed', last_error: error });

    // The next start: the task stays failed, does not run (no second post), and the bot answers.
    const posts = () => emulator.requests.filter((r) => r.method === 'POST' && /\/messages$/.test(r.path));
    const postsBefore = posts().length;
    const again = startBotProcess(emulator, databasePath, env);
    await again.waitForLine(started);
    const info = await invoke(emulator, 'info', { name: 'spinner' }, { guild });
    expect(info.content).toContain('failed');
    expect(info.content).toContain(error);
    expect(readTask(databasePath).state).toBe('failed');
    expect(posts()).toHaveLength(postsBefore);
    again.child.kill('SIGTERM');
    expect(await again.exit).toMatchObject({ code: 0 });
    expect(again.lines.some((line) => line.msg.startsWith('the event loop was blocked'))).toBe(false);
  }, 60_000);

  it('of several runs in flight, fails only the one whose handler the bot is stuck in', async () => {
    const { emulator, guild, databasePath } = await setUp();
    const bot = startBotProcess(emulator, databasePath, {
      WATCHDOG_WARN_SECONDS: '0.5',
      WATCHDOG_LIMIT_SECONDS: '3',
    });
    await bot.waitForLine(started);
    // The watchdog learns which file each kind came from just after start-up.
    const waiting = emulator.waitForMessage(
      guild.channels.general!,
      (message) => message.content.startsWith('waiting'),
      { timeoutMs: 15_000 },
    );
    await invoke(
      emulator,
      'create wait',
      { name: 'waiter', channel: guild.channels.general!, every: '1h' },
      {
        guild,
      },
    );
    await waiting;
    await createSpinner(emulator, guild);

    const warning = await bot.waitForLine(
      (line) => line.msg.startsWith('the event loop has been blocked') && line.msg.includes('"spinner"'),
    );
    expect(warning.msg).toMatch(/; runs in flight: "waiter" \(wait, .*\), "spinner" \(spin, .*\)$/);
    expect(warning.stuckIn).toEqual([`"spinner" (spin, guild ${guild.id})`]);
    expect(await bot.exit).toMatchObject({ code: 1 });
    const fatal = bot.lines.find((line) => line.msg.startsWith('the event loop was blocked'));
    expect(fatal?.msg).toMatch(
      new RegExp(
        `; failed "spinner" \\(spin, guild ${guild.id}\\), so that it does not run again; left alone, as the ` +
          `bot is not stuck in them: "waiter" \\(wait, guild ${guild.id}\\)$`,
      ),
    );
    expect(readTask(databasePath)).toMatchObject({ state: 'failed' });
    expect(readTask(databasePath, 'waiter')).toEqual({ state: 'running', last_error: null });
  }, 60_000);

  it('leaves the quarantine for the next start when the stall holds the database locked', async () => {
    const { emulator, guild, databasePath } = await setUp();
    const env = { WATCHDOG_WARN_SECONDS: '0.5', WATCHDOG_LIMIT_SECONDS: '3' };
    const bot = startBotProcess(emulator, databasePath, env);
    await bot.waitForLine(started);
    await createSpinner(emulator, guild, 'locked-spin');
    expect(await bot.exit).toMatchObject({ code: 1, signal: null });
    const fatal = bot.lines.find((line) => line.msg.startsWith('the event loop was blocked'));
    expect(fatal?.msg).toMatch(
      new RegExp(
        `; will fail "spinner" \\(locked-spin, guild ${guild.id}\\) at the next start \\(the database is ` +
          'locked now: database is locked\\)$',
      ),
    );
    expect(readTask(databasePath).state).toBe('running'); // the watchdog could not write it

    const again = startBotProcess(emulator, databasePath, env);
    await again.waitForLine(started);
    expect(readTask(databasePath)).toEqual({
      state: 'failed',
      last_error:
        'its run blocked the bot for 3 s (the bot restarted and stopped this task); fix the "locked-spin" ' +
        'handler, then /task start spinner',
    });
    expect(existsSync(`${databasePath}.quarantine.json`)).toBe(false);
    expect(again.lines.some((line) => line.msg.startsWith('failed the tasks whose runs blocked'))).toBe(true);
    again.child.kill('SIGTERM');
    expect(await again.exit).toMatchObject({ code: 0 });
  }, 60_000);

  it('only logs a stall during start-up, where the hard limit is not armed yet', async () => {
    const { emulator, databasePath } = await setUp();
    const env = { WATCHDOG_WARN_SECONDS: '0.5', WATCHDOG_LIMIT_SECONDS: '1' };
    const bot = startBotProcess(emulator, databasePath, env, SLOW_IMPORT_HANDLERS);
    // The module's 1.5 s block comes once the database is open. On a loaded machine, opening it (migrations,
    // quick_check) can itself pass 0.5 s; that warning comes first, and may find the tables not there yet.
    const warning = await bot.waitForLine(
      (line) => line.msg.startsWith('the event loop has been blocked') && line.msg.endsWith('in flight'),
    );
    expect(warning.msg).toMatch(
      /^the event loop has been blocked for [\d.]+ s during start-up; no task run is in flight$/,
    );
    await bot.waitForLine(
      (line) =>
        line.msg.startsWith('the event loop runs again after') &&
        bot.lines.indexOf(line) > bot.lines.indexOf(warning),
    );
    await bot.waitForLine(started); // a 1.5 s block, past the 1 s limit, and the bot still starts
    bot.child.kill('SIGTERM');
    expect(await bot.exit).toMatchObject({ code: 0 });
  }, 60_000);

  it('ends the process on SIGTERM during a stall, well before the hard limit', async () => {
    const { emulator, guild, databasePath } = await setUp();
    const bot = startBotProcess(emulator, databasePath, {
      WATCHDOG_WARN_SECONDS: '0.5',
      WATCHDOG_LIMIT_SECONDS: '120',
    });
    await bot.waitForLine(started);
    await createSpinner(emulator, guild);
    await bot.waitForLine((line) => line.msg.startsWith('the event loop has been blocked'));

    const sentAt = performance.now();
    bot.child.kill('SIGTERM');
    const ended = await bot.exit;
    expect(ended).toMatchObject({ code: 1, signal: null });
    expect(ended.at - sentAt).toBeLessThan(10_000); // the hard limit is 120 s
    const line = bot.lines.find((l) => l.msg.startsWith('SIGTERM while the event loop'));
    expect(line?.msg).toMatch(
      new RegExp(
        `^SIGTERM while the event loop has been blocked for [\\d.]+ s: exiting \\(code 1\\) without stopping ` +
          `gracefully; run in flight: "spinner" \\(spin, guild ${guild.id}\\)$`,
      ),
    );
    // A stop signal is not proof that the task would never finish: it is left as it was.
    expect(readTask(databasePath).state).toBe('running');
  }, 60_000);
});
