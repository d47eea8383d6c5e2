// The real entry point (`npm start` as a child process) with a HANDLERS_DIR holding a module whose import
// never finishes. Without a bound, Node exits with code 13 and prints nothing (nothing else alive), or the
// bot hangs forever holding the database lock (a timer alive). With it, the bot names the module and starts.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { type Emulator, startEmulator } from '../../emulator/index.js';
import { MODULE_IMPORT_TIMEOUT_MS } from '../../src/handlers/registry.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const MAIN = join(ROOT, 'src/main.ts');

// No imports, so the folder needs no node_modules: a plain object of the handler's shape.
const GOOD_MODULE = `export default {
  kind: 'fine',
  description: 'A module that loads',
  options: { safeParse: (value) => ({ success: true, data: value }) },
  async run() {},
};
`;

/** Registers a clean-up with the test that calls it (the tests run side by side: no shared list). */
type Cleanup = (fn: () => unknown) => void;

interface Started {
  child: ChildProcess;
  lines: () => Record<string, unknown>[];
  /** Resolves with the first log line `msg`; rejects if the process exits first. */
  waitForLog(msg: string): Promise<Record<string, unknown>>;
  exit: Promise<number | null>;
}

/** Starts `npm start`'s entry point with `env`, collecting its JSON log lines as they arrive. */
function startMain(env: NodeJS.ProcessEnv, cleanup: Cleanup): Started {
  const child = spawn(TSX, [MAIN], { cwd: ROOT, env: { PATH: process.env.PATH, ...env } });
  const lines: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  let output = '';
  let pending = '';
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk;
    pending += chunk.toString('utf8');
    const complete = pending.split('\n');
    pending = complete.pop()!;
    for (const text of complete.filter((text) => text.trim())) {
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.msg === line.msg)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  cleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    lines: () => lines,
    exit,
    waitForLog(msg) {
      const seen = lines.find((line) => line.msg === msg);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ msg, resolve });
        void exit.then((code) =>
          reject(new Error(`the bot exited with code ${code} before logging "${msg}":\n${output}`)),
        );
      });
    },
  };
}

async function emulatorWithGuild(cleanup: Cleanup): Promise<Emulator> {
  const emulator = await startEmulator();
  cleanup(() => emulator.close());
  emulator.world.createGuild({ name: 'Main Guild' });
  return emulator;
}

function handlersDir(stuckModule: string, cleanup: Cleanup): string {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-stuck-'));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  // ES modules, as in a HANDLERS_DIR inside the checkout (a top-level await needs one).
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(dir, 'a-stuck.ts'), stuckModule);
  writeFileSync(join(dir, 'b-good.ts'), GOOD_MODULE);
  return dir;
}

describe('a custom module whose import never finishes', () => {
  // Each variant waits out the real 10 s bound of the entry point, side by side.
  it.concurrent.for([
    ['nothing else alive (Node would exit 13 printing nothing)', 'await new Promise(() => {});\n'],
    [
      'a timer alive (the bot would hang holding the database lock)',
      'setInterval(() => {}, 1_000);\nawait new Promise(() => {});\n',
    ],
  ])(
    'with %s: is named in the log and skipped; the bot starts with the other modules',
    { timeout: 60_000 },
    async ([, stuck], { expect, onTestFinished }) => {
      const cleanup: Cleanup = (fn) =>
        onTestFinished(async () => {
          await fn();
        });
      const emulator = await emulatorWithGuild(cleanup);
      const dir = handlersDir(stuck, cleanup);
      const databaseDir = mkdtempSync(join(tmpdir(), 'metronome-stuck-db-'));
      cleanup(() => rmSync(databaseDir, { recursive: true, force: true }));
      const bot = startMain(
        {
          DISCORD_TOKEN: emulator.token,
          DISCORD_API_BASE: emulator.apiBase,
          DATABASE_PATH: join(databaseDir, 'bot.db'),
          HANDLERS_DIR: dir,
          LOG_LEVEL: 'info',
        },
        cleanup,
      );
      const skipped = await bot.waitForLog('handler module skipped');
      expect(skipped).toMatchObject({
        path: join(dir, 'a-stuck.ts'),
        reason: `its import did not finish within ${MODULE_IMPORT_TIMEOUT_MS / 1_000} s; a top-level await that never settles?`,
      });
      expect(await bot.waitForLog('handlers loaded')).toMatchObject({
        kinds: ['counter', 'leaderboard', 'reminder', 'fine'],
        skipped: 1,
      });
      await bot.waitForLog('tasks resumed');
      expect(emulator.commands.list(null).map((c) => c.name)).toEqual(['task']);
      // It stops as usual, releasing the database lock.
      bot.child.kill('SIGTERM');
      expect(await bot.exit).toBe(0);
      expect(bot.lines().map((line) => line.msg)).toContain('stopped');
    },
  );
});
