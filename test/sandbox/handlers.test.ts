// `npm run sandbox` with the author's handler modules: `--handlers DIR` or HANDLERS_DIR from .env, a module
// that fails to load named with its reason (and failing a --script run), and, at the prompt, an edited
// module reloaded while its tasks run. Each run is the real sandbox in a child process, as a user starts it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const SANDBOX = [TSX, '--conditions=development', join(ROOT, 'scripts/sandbox.ts')] as const;
const base = mkdtempSync(join(tmpdir(), 'metronome-sandbox-handlers-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** A handler that posts `<version> <text>` on each run; `extra` adds a second slash option. */
function echoModule(version: string, extra = false): string {
  return `import { defineHandler } from 'metronome';
import { z } from 'zod';

export default defineHandler({
  kind: 'echo',
  description: 'Say a text again and again',
  options: z.object({ text: z.string()${extra ? ', suffix: z.string().optional()' : ''} }),
  slashOptions: (b) =>
    b.addStringOption((o) => o.setName('text').setDescription('What to say').setRequired(true))${
      extra ? `\n      .addStringOption((o) => o.setName('suffix').setDescription('Said after it'))` : ''
    },
  async run(ctx) {
    await ctx.send(\`${version} \${ctx.options.text}\`);
  },
});
`;
}

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(base, 'dir-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function sandbox(
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(SANDBOX[0], [...SANDBOX.slice(1), ...args], {
      cwd: options.cwd ?? ROOT,
      env: { PATH: process.env.PATH },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function script(lines: string[]): string {
  const path = join(base, `script-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(path, lines.join('\n'));
  return path;
}

describe('npm run sandbox -- --handlers DIR --script FILE', () => {
  it('creates a task of the folder’s kind, and help lists the kind with its options', async () => {
    const dir = folder({ 'echo.ts': echoModule('v1') });
    const { code, stdout } = await sandbox([
      '--handlers',
      dir,
      '--script',
      script(['help', '/task create echo name:e channel:#general every:1h text:hello', 'wait 100ms']),
    ]);
    expect(stdout).toMatch(/\] Loaded echo \(echo\.ts\) from /);
    expect(stdout).toContain(
      `Your handlers, from ${dir}:\n  echo (echo.ts): Say a text again and again\n    text (required): What to say`,
    );
    expect(stdout).toContain('  /task create echo name:… channel:… text:… [every:…]');
    expect(stdout).toMatch(/\] \(only you\) Created e, a echo task in #general running every 1h\./);
    expect(stdout).toMatch(/\] #general Metronome: v1 hello/);
    expect(code).toBe(0);
  }, 40_000);

  it('names a module that fails to load with its reason, goes on with the others, and exits 1', async () => {
    const dir = folder({
      'echo.ts': echoModule('v1'),
      'broken.ts': 'export default {\n',
      'no-default.js': 'export const kind = 1;\n',
    });
    const { code, stdout, stderr } = await sandbox([
      '--handlers',
      dir,
      '--script',
      script(['/task create echo name:e channel:#general every:1h text:"still here"', 'wait 100ms']),
    ]);
    // Said once, as a sentence: not again as the bot's JSON log line.
    expect(stderr).toBe('');
    expect(stdout).toContain(`✗ ${join(dir, 'broken.ts')} was not loaded: it threw while loading: `);
    expect(stdout).toContain(
      `✗ ${join(dir, 'no-default.js')} was not loaded: it has no default export (export default defineHandler({...}))`,
    );
    expect(stdout).toMatch(/\] #general Metronome: v1 still here/);
    expect(code).toBe(1);
  }, 40_000);

  it('reads HANDLERS_DIR from .env when there is no --handlers, with no token', async () => {
    const project = mkdtempSync(join(base, 'project-'));
    mkdirSync(join(project, 'handlers'));
    writeFileSync(join(project, 'handlers', 'echo.ts'), echoModule('v1'));
    writeFileSync(join(project, '.env'), 'DISCORD_TOKEN=\nHANDLERS_DIR=./handlers\n');
    const { code, stdout } = await sandbox(['--script', script(['/task list'])], { cwd: project });
    expect(stdout).toContain(`Loaded echo (echo.ts) from ${join(project, 'handlers')}`);
    expect(code).toBe(0);
  }, 40_000);

  it('refuses a --handlers folder that does not exist, and a flag it does not know', async () => {
    const missing = await sandbox(['--handlers', join(base, 'nowhere'), '--script', script([])]);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toBe(`--handlers names ${join(base, 'nowhere')}, and there is no such folder.\n`);
    const file = script([]);
    const notFolder = await sandbox(['--handlers', file]);
    expect(notFolder.code).toBe(2);
    expect(notFolder.stderr).toContain('which is a file: give the folder that holds your handler modules');
    const unknown = await sandbox(['--handler', '.']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      'usage: npm run sandbox -- [--script FILE] [--handlers DIR] [--verbose]',
    );
  }, 40_000);
});

interface Prompt {
  child: ChildProcess;
  type(line: string): void;
  /** Resolves with the output so far once it matches, counting only output after `from` characters. */
  waitFor(pattern: RegExp, from?: number): Promise<string>;
  output(): string;
}

let prompt: Prompt | undefined;
afterEach(() => {
  prompt?.child.kill('SIGKILL');
  prompt = undefined;
});

function startPrompt(dir: string): Prompt {
  const child = spawn(SANDBOX[0], [...SANDBOX.slice(1), '--handlers', dir], {
    cwd: ROOT,
    env: { PATH: process.env.PATH },
  });
  let text = '';
  const waiters: { pattern: RegExp; from: number; resolve: (text: string) => void }[] = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(text.slice(waiter.from))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(text);
      }
    }
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk;
    check();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk;
  });
  return {
    child,
    type: (line) => child.stdin!.write(`${line}\n`),
    waitFor: (pattern, from = 0) =>
      new Promise((resolve, reject) => {
        waiters.push({ pattern, from, resolve });
        child.on('exit', () => reject(new Error(`the sandbox ended before ${pattern}:\n${text}`)));
        check();
      }),
    output: () => text,
  };
}

describe('the sandbox prompt with --handlers', () => {
  it('reloads an edited module: its task runs the new code, a broken edit keeps the old, new options are registered', async () => {
    const dir = folder({ 'echo.ts': echoModule('v1') });
    prompt = startPrompt(dir);
    await prompt.waitFor(/metronome> /);
    prompt.type('/task create echo name:e channel:#general every:10s text:hi');
    await prompt.waitFor(/#general Metronome: v1 hi/);

    let mark = prompt.output().length;
    writeFileSync(join(dir, 'echo.ts'), echoModule('v2'));
    await prompt.waitFor(/reloaded echo\.ts: kind echo, 1 task\n/, mark);
    // The task goes on by itself, on its schedule, with the new code.
    await prompt.waitFor(/#general Metronome: v2 hi/, mark);

    mark = prompt.output().length;
    writeFileSync(join(dir, 'echo.ts'), 'export default defineHandler({\n');
    await prompt.waitFor(
      /✗ echo\.ts did not reload: it threw while loading: .*The version loaded before keeps running\.\n/s,
      mark,
    );
    mark = prompt.output().length;
    prompt.type('/task restart name:e');
    await prompt.waitFor(/#general Metronome: v2 hi/, mark);

    mark = prompt.output().length;
    writeFileSync(join(dir, 'echo.ts'), echoModule('v3', true));
    await prompt.waitFor(/reloaded echo\.ts: kind echo, 1 task\n/, mark);
    await prompt.waitFor(/\/task re-registered: kinds or their options changed/, mark);
    prompt.type('/task create echo name:f channel:#announcements every:1h text:new suffix:!');
    await prompt.waitFor(/\(only you\) Created f, a echo task in #announcements/, mark);
    await prompt.waitFor(/#announcements Metronome: v3 new/, mark);
  }, 90_000);
});
