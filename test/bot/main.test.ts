// `npm start` as a user runs it: a child process reading .env, talking to the emulator, stopped by SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { startEmulator } from '../../emulator/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const MAIN = join(ROOT, 'src/main.ts');

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-main-'));
  dirs.push(dir);
  return dir;
}

function run(
  cwd: string,
  env: NodeJS.ProcessEnv,
): {
  child: ChildProcess;
  output: () => string;
  /** Resolves once the output contains `text`; rejects if the process exits first. */
  printed: (text: string) => Promise<void>;
  exit: Promise<number | null>;
} {
  const child = spawn(TSX, [MAIN], { cwd, env: { PATH: process.env.PATH, ...env } });
  let output = '';
  const append = (chunk: unknown) => {
    output += chunk;
    child.emit('printed');
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const printed = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!output.includes(text)) return;
        child.off('printed', check);
        resolve();
      };
      child.on('printed', check);
      void exit.then(() => reject(new Error(`exited before printing "${text}":\n${output}`)));
      check();
    });
  return { child, output: () => output, printed, exit };
}

it('stops with one line naming DISCORD_TOKEN when it is missing', async () => {
  const started = run(tempDir(), {});
  expect(await started.exit).toBe(1);
  expect(started.output()).toBe('DISCORD_TOKEN is required: put your bot token in .env (see .env.example)\n');
}, 15_000);

it('starts from .env, logs structured lines without the token, and stops gracefully on SIGTERM', async () => {
  const emulator = await startEmulator();
  try {
    emulator.world.createGuild({ name: 'Main Guild' });
    const cwd = tempDir();
    writeFileSync(
      join(cwd, '.env'),
      [
        `DISCORD_TOKEN=${emulator.token}`,
        `DISCORD_API_BASE=${emulator.apiBase}`,
        'DATABASE_PATH=./data/bot.db',
        'LOG_LEVEL=info',
      ].join('\n'),
    );
    const started = run(cwd, {});
    // Waits for the line itself: tsx compiles the bot first, which takes seconds on a loaded machine.
    await started.printed('tasks resumed');
    started.child.kill('SIGTERM');
    expect(await started.exit).toBe(0);
    const lines = started.output().trim().split('\n');
    const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages).toEqual(
      expect.arrayContaining(['connected to Discord', 'slash commands synced', 'stopped']),
    );
    expect(started.output()).not.toContain(emulator.token);
    expect(emulator.commands.list(null).map((c) => c.name)).toEqual(['task']);
  } finally {
    await emulator.close();
  }
}, 90_000);

it('exits 1 with one plain sentence when Discord refuses the Server Members intent', async () => {
  const emulator = await startEmulator({ enabledPrivilegedIntents: 0, strict: false });
  try {
    emulator.world.createGuild({ name: 'Main Guild' });
    const started = run(tempDir(), {
      DISCORD_TOKEN: emulator.token,
      DISCORD_API_BASE: emulator.apiBase,
      DATABASE_PATH: './bot.db',
      LOG_LEVEL: 'silent',
    });
    expect(await started.exit).toBe(1);
    expect(started.output()).toBe(
      'Discord refused the Server Members intent. Enable it in the Developer Portal (your app → Bot → ' +
        'Privileged Gateway Intents → Server Members Intent), then start Metronome again.\n',
    );
  } finally {
    await emulator.close();
  }
}, 20_000);
