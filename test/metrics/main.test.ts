// The entry point with a bad METRICS_PORT: a value that is not a port, and a port another program holds. Each
// stops the bot with exit 1 and one plain line naming METRICS_PORT, never a stack trace.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const MAIN = join(ROOT, 'src/main.ts');

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function run(env: NodeJS.ProcessEnv): {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<number | null>;
} {
  const cwd = mkdtempSync(join(tmpdir(), 'metronome-main-metrics-'));
  dirs.push(cwd);
  const child = spawn(TSX, [MAIN], {
    cwd,
    env: { PATH: process.env.PATH, DISCORD_TOKEN: 'not-a-real-token', LOG_LEVEL: 'silent', ...env },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stderr: () => stderr, exit };
}

it('stops with one line when METRICS_PORT is not a port', async () => {
  const started = run({ METRICS_PORT: '99999' });
  expect(await started.exit).toBe(1);
  expect(started.stderr()).toBe(
    'METRICS_PORT must be a port number from 1 to 65535, such as 9464 (leave it empty for no metrics listener)\n',
  );
}, 15_000);

it('stops with one line when METRICS_PORT is taken, before connecting to Discord', async () => {
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = (squatter.address() as { port: number }).port;
  try {
    // No Discord at this address: the bot must stop on the port before it tries to connect.
    const started = run({ METRICS_PORT: String(port), DISCORD_API_BASE: 'http://127.0.0.1:9/api' });
    expect(await started.exit).toBe(1);
    expect(started.stderr()).toBe(
      `METRICS_PORT ${port} is already in use on 127.0.0.1: another program (or another Metronome) listens ` +
        'there. Pick a free port, or stop that program.\n',
    );
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
  }
}, 15_000);
