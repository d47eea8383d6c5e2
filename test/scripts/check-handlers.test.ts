// `npm run check`'s handler half (scripts/check-handlers.mjs): a handler folder anywhere on disk type-checked
// with the project's strictness, as the bot loads it; errors named by file:line:column, exit 1.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/check-handlers.mjs');
const base = mkdtempSync(join(tmpdir(), 'metronome-check-handlers-test-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** A module in a folder with no package.json, using what an ES module may (import.meta, top-level await). */
const GOOD = `import { defineHandler } from 'metronome';
import { z } from 'zod';

const loadedFrom: string = import.meta.url;
await Promise.resolve();

export default defineHandler({
  kind: 'good',
  description: \`A correct handler from \${loadedFrom}\`,
  options: z.object({ text: z.string() }),
  async run(ctx) {
    await ctx.send(ctx.options.text.toUpperCase());
  },
});
`;

const BAD = `import { defineHandler } from 'metronome';
import { z } from 'zod';

export default defineHandler({
  kind: 'bad',
  description: 'n is a number, not a string',
  options: z.object({ n: z.number() }),
  async run(ctx) {
    const text: string = ctx.options.n;
    await ctx.send(text);
  },
});
`;

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(base, 'handlers-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

async function check(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [SCRIPT, ...args], {
      cwd: options.cwd ?? base,
      env: { PATH: process.env.PATH, ...options.env },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('scripts/check-handlers.mjs', () => {
  it('catches a type error with its file and line, and says nothing of the correct module beside it', async () => {
    const dir = folder({ 'good.ts': GOOD, 'lib/bad.ts': BAD });
    const { code, stdout, stderr } = await check([dir]);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `${relative(base, join(dir, 'lib/bad.ts'))}:9:11: error TS2322: Type 'number' is not assignable to type 'string'.\n` +
        `${dir}: the handler modules above do not type-check (2 TypeScript files in ${dir}).\n`,
    );
    expect(code).toBe(1);
  }, 130_000);

  it('passes a correct module and its test quietly, named by HANDLERS_DIR from .env', async () => {
    const project = folder({
      '.env': 'HANDLERS_DIR=./mine\n',
      'mine/good.ts': GOOD,
      // A handler's test, on the bot's vitest (as metronome/testing runs), with no node_modules here.
      'mine/good.test.ts': `import { expect, it } from 'vitest';\nit('adds', () => expect(1 + 1).toBe(2));\n`,
      'mine/notes.js': 'x = ;',
    });
    expect(await check([], { cwd: project })).toEqual({ code: 0, stdout: '', stderr: '' });
  }, 130_000);

  it('passes quietly with no folder, an empty one, or one without TypeScript; refuses one that is not there', async () => {
    expect(await check([], { cwd: folder({}) })).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await check([folder({ 'types.d.ts': 'export type A = 1;\n' })])).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
    const project = folder({});
    const missing = await check([], { cwd: project, env: { HANDLERS_DIR: 'gone' } });
    expect(missing).toEqual({
      code: 1,
      stdout: '',
      stderr: `HANDLERS_DIR names ${join(project, 'gone')}, and there is no such folder.\n`,
    });
  });
});
