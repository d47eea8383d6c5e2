// The compiled shard manager (`node dist/main.js` with two shards): its children run dist/shard/child.js, and
// when one of them cannot run (another process holds its shard) the manager does not restart it forever: it
// stops every shard process and exits 1, with the child's one sentence on stderr.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { startEmulator } from '../../emulator/index.js';
import { acquireShardLocks } from '../../src/db/lock.js';
import { makeGuild } from '../commands/helpers.js';
import { BUILD_MS, buildDistIfStale } from '../support/build-dist.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(REPO, 'dist/main.js');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

beforeAll(buildDistIfStale, BUILD_MS);

it('stops every shard process and exits 1 when one cannot run, instead of restarting it', async () => {
  const emulator = await startEmulator({ sessionStartLimit: { maxConcurrency: 2 } });
  cleanups.push(() => emulator.close());
  for (let i = 0; i < 4; i++) makeGuild(emulator, `g${i}`);
  const dir = mkdtempSync(join(tmpdir(), 'metronome-compiled-shards-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const databasePath = join(dir, 'bot.db');
  // This process holds shard 1 of 2, as a Metronome already running it would.
  const held = acquireShardLocks(databasePath, { count: 2, ids: [1] });
  cleanups.push(() => held.release());

  const manager = spawn(process.execPath, [MAIN], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      DISCORD_TOKEN: emulator.token,
      DISCORD_API_BASE: emulator.apiBase,
      DATABASE_PATH: './bot.db',
      LOG_LEVEL: 'info',
      SHARD_COUNT: '2',
    },
  });
  let stdout = '';
  let stderr = '';
  manager.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  manager.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => manager.once('exit', resolve));

  expect(stderr).toBe(
    `Another Metronome is already running shard 1 of 2 on ${databasePath} (pid ${process.pid}). Stop it ` +
      'first, or point DATABASE_PATH at another file.\n',
  );
  expect(code).toBe(1);
  const lines = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { msg: string; shards?: number[] });
  const messages = lines.map((line) => line.msg);
  // Shard 0's process ran (the compiled child entry works) and was stopped gracefully with the manager.
  expect(lines.filter((line) => line.shards?.[0] === 0).map((line) => line.msg)).toEqual(
    expect.arrayContaining(['tasks resumed', 'stopped']),
  );
  expect(messages).toContain('the process of shard 1 of 2 cannot run; stopping every shard process');
  expect(messages.filter((msg) => msg.includes('starting it again'))).toEqual([]);
  expect(messages.at(-1)).toBe('stopped');
}, 120_000);
