// The compiled metronome/testing (dist/testing, with the emulator in dist/emulator), as a project that uses
// the built package runs it: a handler test in a folder of its own, run by vitest without the development
// condition. dist/ is built once per test run, and only when it is missing or stale.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BUILD_MS, buildDistIfStale } from '../support/build-dist.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;

beforeAll(buildDistIfStale, BUILD_MS);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TEST = `
import { defineHandler } from 'metronome';
import { handlerTestbed } from 'metronome/testing';
import { expect, it } from 'vitest';
import { z } from 'zod';

const hello = defineHandler({
  kind: 'hello',
  description: 'Says hello',
  options: z.object({}),
  async run(ctx) {
    await ctx.send('hello');
  },
});

it('runs the compiled kit', async () => {
  const bed = await handlerTestbed({ handlers: [hello] });
  await bed.create('hello', {}, { every: '1h' });
  await bed.advance('2h');
  expect(bed.posts().map((m) => m.content)).toEqual(['hello', 'hello', 'hello']);
  // Where the kit and the emulator were loaded from, told by their stacks.
  const kit = await bed.advance('soon').catch((error) => error.stack);
  let emulator = '';
  try {
    bed.emulator.world.channel('0');
  } catch (error) {
    emulator = error.stack;
  }
  await bed.close();
  console.log(JSON.stringify({ kit: kit.split('\\n')[1], emulator: emulator.split('\\n')[1] }));
});
`;

it('runs a handler test with the built kit and emulator, under plain vitest', async () => {
  dir = mkdtempSync(join(tmpdir(), 'metronome-compiled-kit-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(REPO, join(dir, 'node_modules', 'metronome'), 'dir');
  for (const name of ['zod', 'vitest'])
    symlinkSync(join(REPO, 'node_modules', name), join(dir, 'node_modules', name), 'dir');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(dir, 'vitest.config.mjs'), "export default { test: { include: ['*.test.mjs'] } };\n");
  writeFileSync(join(dir, 'hello.test.mjs'), TEST);
  // NODE_ENV=production: vite resolves the "development" condition otherwise, which is the source.
  const child = spawn(process.execPath, [join(REPO, 'node_modules/vitest/vitest.mjs'), 'run'], {
    cwd: dir,
    env: { ...process.env, NODE_ENV: 'production', NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(output).toMatch(/Tests +1 passed/);
  expect(code).toBe(0);
  const where = JSON.parse(/^\{"kit".*$/m.exec(output)![0]) as { kit: string; emulator: string };
  expect(where.kit).toContain(join(REPO, 'dist/testing/'));
  expect(where.emulator).toContain(join(REPO, 'dist/emulator/'));
}, 120_000);
