// npm run new-handler: what it writes loads and passes its own test as written; what it refuses, it says why
// and writes nothing.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { scaffoldHandler } from '../../scripts/new-handler.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const HANDLERS = join(REPO, 'handlers');
/** A child tsx and a child vitest, on a loaded machine. */
const CHILDREN_MS = 120_000;

const cleanUps: (() => void)[] = [];
afterEach(() => {
  for (const cleanUp of cleanUps.splice(0)) cleanUp();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-new-handler-'));
  cleanUps.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function run(
  command: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { cwd: REPO, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

const newHandler = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', '--conditions=development', 'scripts/new-handler.ts', ...args]);

it(
  'writes a handler and its test into handlers/, and the test passes as written',
  async () => {
    // A kind no one has; the files are removed afterwards, and handlers/ too if this test made it.
    const kind = `scaffold-${process.pid}`;
    const hadFolder = existsSync(HANDLERS);
    cleanUps.push(() => {
      for (const name of [`${kind}.ts`, `${kind}.test.ts`]) rmSync(join(HANDLERS, name), { force: true });
      if (!hadFolder && existsSync(HANDLERS) && readdirSync(HANDLERS).length === 0)
        rmSync(HANDLERS, { recursive: true });
    });
    const written = await newHandler(kind);
    expect(written).toEqual({
      code: 0,
      stdout: `wrote handlers/${kind}.ts and handlers/${kind}.test.ts\ntry it: npx vitest run handlers/${kind}.test.ts\n`,
      stderr: '',
    });
    const tested = await run(process.execPath, [
      join(REPO, 'node_modules/vitest/vitest.mjs'),
      'run',
      `handlers/${kind}.test.ts`,
    ]);
    expect(tested.stdout).toMatch(/Tests:? +2 passed/);
    expect(tested.code).toBe(0);
    // Now taken by its own module, as the bot would load it.
    expect(await newHandler(kind)).toEqual({
      code: 1,
      stdout: '',
      stderr: `"${kind}" is taken: it is the kind of ${join(HANDLERS, `${kind}.ts`)}; pick another kind.\n`,
    });
  },
  CHILDREN_MS,
);

describe('refuses, saying why, and writes nothing', () => {
  it.each([
    ['reminder', '"reminder" is taken: it is a built-in kind; pick another kind.'],
    ['list', '"list" is a /task subcommand (/task list), so it would read as one; pick another kind.'],
    ['create', '"create" is a /task subcommand (/task create), so it would read as one; pick another kind.'],
    [
      'Quiz',
      '"Quiz" is not a valid kind: kind must be 1 to 32 lowercase letters, digits, "-" or "_", starting with a letter.',
    ],
    [
      '9lives',
      '"9lives" is not a valid kind: kind must be 1 to 32 lowercase letters, digits, "-" or "_", starting with a letter.',
    ],
    ['a'.repeat(33), expect.stringMatching(/^"a{33}" is not a valid kind: kind must be 1 to 32 /)],
  ])('%s', async (kind, reason) => {
    const dir = join(tempDir(), 'handlers');
    expect(await scaffoldHandler(kind, dir)).toEqual(reason);
    expect(existsSync(dir)).toBe(false);
  });

  it('a kind a module in the folder already has', async () => {
    const dir = tempDir();
    const module = join(dir, 'weather.js');
    writeFileSync(
      module,
      "export default { kind: 'forecast', description: 'd', options: { safeParse() {} }, async run() {} };\n",
    );
    expect(await scaffoldHandler('forecast', dir)).toBe(
      `"forecast" is taken: it is the kind of ${module}; pick another kind.`,
    );
    expect(readdirSync(dir)).toEqual(['weather.js']);
  });

  it('a file already there (a test without its module, say)', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'quiz.test.ts'), '// mine\n');
    expect(await scaffoldHandler('quiz', dir)).toBe(
      `${join(dir, 'quiz.test.ts')} already exists; pick another kind or move that file away.`,
    );
    expect(readdirSync(dir)).toEqual(['quiz.test.ts']);
  });

  it(
    'the command line without a kind, or with two',
    async () => {
      const usage = 'usage: npm run new-handler -- <kind> [--dir <folder>] (default folder: handlers)\n';
      expect(await newHandler()).toEqual({ code: 2, stdout: '', stderr: usage });
      expect(await newHandler('one', 'two', '--dir')).toEqual({ code: 2, stdout: '', stderr: usage });
    },
    CHILDREN_MS,
  );
});
