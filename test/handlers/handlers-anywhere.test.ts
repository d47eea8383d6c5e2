// A HANDLERS_DIR anywhere on disk, in development (tsx, the `development` condition: metronome is src/):
// its modules get the bot's own metronome and zod with no node_modules of their own, and their other imports
// resolve from their own folder. Run in a child process under tsx, as `npm run sandbox` runs: vitest resolves
// a module's imports itself and would never reach node's resolve hook.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnywhereFolders, anywhereFolders, type LoadedAnywhere } from './handlers-anywhere.fixture.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PROBE = join(REPO, 'test/handlers/fixtures/load-anywhere.mjs');

let folders: AnywhereFolders;
let loaded: LoadedAnywhere;

async function load(nodeFlags: string[]): Promise<LoadedAnywhere> {
  const { stdout } = await promisify(execFile)(
    join(REPO, 'node_modules/.bin/tsx'),
    [...nodeFlags, PROBE, 'src', folders.bare, folders.withPackages],
    { cwd: REPO, env: { PATH: process.env.PATH }, timeout: 30_000 },
  );
  return JSON.parse(stdout) as LoadedAnywhere;
}

beforeAll(async () => {
  folders = anywhereFolders();
  loaded = await load(['--conditions=development']);
}, 40_000);
afterAll(() => folders?.remove());

describe('handlers anywhere, under tsx', () => {
  it('loads .js and .ts modules from a folder outside the checkout with no node_modules and no package.json', () => {
    expect(loaded.kinds).toEqual([
      'counter',
      'leaderboard',
      'reminder',
      'common-js',
      'plain-js',
      'typed-ts',
      'shouting',
    ]);
  });

  it("gives them the bot's own defineHandler, TransientError and z", () => {
    const same = { defineHandler: true, TransientError: true, z: true };
    expect(loaded.modules['plain-js']).toEqual(same);
    expect(loaded.modules['typed-ts']).toEqual(same);
  });

  it("resolves other imports from the folder's own node_modules, but metronome stays the bot's", () => {
    expect(loaded.modules.shouting).toEqual({
      defineHandler: true,
      z: true,
      shouted: 'HI',
      // The package has no zod of its own: it gets the bot's, as a peer dependency would.
      shoutHasTheBotsZod: true,
    });
  });

  it('skips a module whose import is nowhere to be found, naming what is missing', () => {
    expect(loaded.skipped).toEqual([
      {
        path: join(folders.bare, 'missing-export.js'),
        reason: expect.stringMatching(/^it threw while loading: .*notThere/),
      },
      {
        path: join(folders.bare, 'missing-package.ts'),
        reason: expect.stringMatching(/^it threw while loading: Cannot find package 'left-pad-nowhere'/),
      },
    ]);
  });

  it("gives them the bot's own copies from src/ even when tsx runs without the development condition", async () => {
    // Resolved as node would by default, metronome would be dist/: a second copy beside the bot's src/.
    const plain = await load([]);
    expect(plain.modules['typed-ts']).toEqual({ defineHandler: true, TransientError: true, z: true });
  }, 40_000);
});
