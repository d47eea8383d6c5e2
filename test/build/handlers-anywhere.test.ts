// A HANDLERS_DIR anywhere on disk, under the compiled bot (plain node, dist/; tsx registered only for .ts
// modules, its hooks chained before the bot's): its modules get dist/'s metronome and the bot's zod with no
// node_modules of their own. dist/ is built once per test run, and only when it is missing or stale.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type AnywhereFolders,
  anywhereFolders,
  type LoadedAnywhere,
} from '../handlers/handlers-anywhere.fixture.js';
import { BUILD_MS, buildDistIfStale } from '../support/build-dist.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PROBE = join(REPO, 'test/handlers/fixtures/load-anywhere.mjs');

let folders: AnywhereFolders | undefined;
afterAll(() => folders?.remove());

beforeAll(buildDistIfStale, BUILD_MS);

it("node loads .js and .ts handlers from a folder outside the checkout with the bot's own metronome and zod", async () => {
  folders = anywhereFolders();
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [PROBE, 'dist', folders.bare, folders.withPackages],
    { cwd: folders.bare, env: { PATH: process.env.PATH }, timeout: 30_000 },
  );
  const loaded = JSON.parse(stdout) as LoadedAnywhere;
  expect(loaded.kinds).toEqual([
    'counter',
    'leaderboard',
    'reminder',
    'common-js',
    'plain-js',
    'typed-ts',
    'shouting',
  ]);
  const same = { defineHandler: true, TransientError: true, z: true };
  expect(loaded.modules['plain-js']).toEqual(same);
  expect(loaded.modules['typed-ts']).toEqual(same);
  expect(loaded.modules.shouting).toEqual({
    defineHandler: true,
    z: true,
    shouted: 'HI',
    shoutHasTheBotsZod: true,
  });
  expect(loaded.skipped.map((module) => module.path)).toEqual([
    join(folders.bare, 'missing-export.js'),
    join(folders.bare, 'missing-package.ts'),
  ]);
}, 40_000);
