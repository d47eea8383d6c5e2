import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createExecutor, setupHandlers } from '../../src/handlers/executor.js';
import { loadHandlers } from '../../src/handlers/registry.js';
import { type Bot, captureLog, eventually, startBot } from './helpers.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLE = join(REPO, 'examples/handlers/question-of-the-day.ts');

let bot: Bot | undefined;
const dirs: string[] = [];

afterEach(async () => {
  await bot?.close();
  bot = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * A HANDLERS_DIR outside the checkout, as an admin would have it: modules import 'metronome' and 'zod',
 * which resolve through its node_modules (here links to this checkout and its zod).
 */
function handlersDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-custom-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(REPO, join(dir, 'node_modules', 'metronome'), 'dir');
  symlinkSync(join(REPO, 'node_modules', 'zod'), join(dir, 'node_modules', 'zod'), 'dir');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const VALID_SHAPE = `
import { z } from 'zod';
export default { kind: 'KIND', description: 'd', options: z.object({}), async run() {} };
`;

describe('custom handler modules', () => {
  // What the example does is tested through metronome/testing (test/examples/question-of-the-day.test.ts).
  it('loads the example from HANDLERS_DIR beside the built-ins, with the file each kind came from', async () => {
    const dir = handlersDir({});
    copyFileSync(EXAMPLE, join(dir, 'question-of-the-day.ts'));
    bot = await startBot({ handlerDirs: [dir] });
    expect(bot.registry.kinds).toEqual(['counter', 'leaderboard', 'reminder', 'qotd']);
    expect(bot.registry.skipped).toEqual([]);
    // Each kind's module file, which the watchdog matches against a stuck stack.
    expect(bot.registry.files.get('qotd')).toBe(join(dir, 'question-of-the-day.ts'));
    expect(bot.registry.files.get('reminder')).toMatch(/src\/handlers\/builtin\/reminder\.ts$/);
  });

  it('skips broken modules with a logged reason and keeps the rest', async () => {
    const dir = handlersDir({
      'a-throws.ts': `throw new Error('boom while importing');\n`,
      'b-bad-kind.ts': VALID_SHAPE.replace('KIND', 'Not A Kind'),
      'c-duplicate.ts': VALID_SHAPE.replace('KIND', 'reminder'),
      'd-no-default.ts': 'export const handler = 1;\n',
      'e-reserved.ts': `
import { z } from 'zod';
export default {
  kind: 'clash', description: 'd', options: z.object({ every: z.string() }), async run() {},
  slashOptions: (b) => b.addStringOption((o) => o.setName('every').setDescription('x')),
};
`,
      'f-good.ts': VALID_SHAPE.replace('KIND', 'fine'),
      'notes.md': 'not a module',
    });
    const { log, lines } = captureLog();
    const registry = await loadHandlers({ dirs: [dir], log });
    expect(registry.kinds).toEqual(['counter', 'leaderboard', 'reminder', 'fine']);
    const reasons = Object.fromEntries(
      registry.skipped.map((s) => [s.path.slice(dir.length + 1), s.reason] as const),
    );
    expect(reasons).toEqual({
      'a-throws.ts': 'it threw while loading: boom while importing',
      'b-bad-kind.ts': 'kind must be 1 to 32 lowercase letters, digits, "-" or "_", starting with a letter',
      'c-duplicate.ts': 'a handler of kind "reminder" is already loaded',
      'd-no-default.ts': 'it has no default export (export default defineHandler({...}))',
      'e-reserved.ts': 'slash option "every" is reserved for every task',
    });
    const skippedLines = lines.filter((line) => line.msg === 'handler module skipped');
    expect(skippedLines.map((line) => [line.path, line.reason])).toEqual(
      registry.skipped.map((s) => [s.path, s.reason]),
    );
    expect(lines.find((line) => line.msg === 'handlers loaded')).toMatchObject({ skipped: 5 });
  });

  it('skips a module whose import never finishes, with or without a timer alive, and loads the rest', async () => {
    const dir = handlersDir({
      // A top-level await that never settles, and nothing else alive (Node alone would exit with code 13).
      'a-stuck.ts': 'await new Promise(() => {});\n',
      // The same with a timer alive (Node alone would hang forever); the test clears it afterwards.
      'b-stuck-with-timer.ts': `
(globalThis as { stuckTimer?: unknown }).stuckTimer = setInterval(() => {}, 1_000);
await new Promise(() => {});
`,
      'c-good.ts': VALID_SHAPE.replace('KIND', 'fine'),
    });
    const { log, lines } = captureLog();
    // The built-ins first, at the default bound, so the short bound below times only these modules.
    await loadHandlers({ dirs: [], log });
    try {
      const registry = await loadHandlers({ dirs: [dir], log, importTimeoutMs: 1_500 });
      expect(registry.kinds).toEqual(['counter', 'leaderboard', 'reminder', 'fine']);
      const reason = 'its import did not finish within 1.5 s; a top-level await that never settles?';
      expect(registry.skipped).toEqual([
        { path: join(dir, 'a-stuck.ts'), reason },
        { path: join(dir, 'b-stuck-with-timer.ts'), reason },
      ]);
      const skippedLines = lines.filter((line) => line.msg === 'handler module skipped');
      expect(skippedLines.map((line) => [line.path, line.reason])).toEqual([
        [join(dir, 'a-stuck.ts'), reason],
        [join(dir, 'b-stuck-with-timer.ts'), reason],
      ]);
    } finally {
      clearInterval((globalThis as { stuckTimer?: ReturnType<typeof setInterval> }).stuckTimer);
    }
  });

  it('logs a setup that throws and still runs the other handlers', async () => {
    const dir = handlersDir({
      'bad-setup.ts': `
import { z } from 'zod';
export default {
  kind: 'fragile', description: 'd', options: z.object({}), async run() {},
  setup() { throw new Error('no listener for you'); },
};
`,
    });
    const { log, lines } = captureLog();
    const registry = await loadHandlers({ dirs: [dir], log });
    bot = await startBot({ fakeTime: false });
    const cleanup = await setupHandlers(registry, {
      client: bot.client,
      db: bot.connection.db,
      tasks: bot.runtime,
      log,
    });
    expect(
      lines.find((line) => line.msg === 'handler setup failed; its handler runs without it'),
    ).toMatchObject({
      kind: 'fragile',
      err: expect.objectContaining({ message: 'no listener for you' }),
    });
    // The leaderboard's listener was still installed (and the clean-up removes it).
    const listeners = bot.client.listenerCount('messageCreate');
    expect(listeners).toBeGreaterThanOrEqual(2);
    cleanup();
    expect(bot.client.listenerCount('messageCreate')).toBe(listeners - 1);
    expect(
      typeof createExecutor({ client: bot.client, db: bot.connection.db, registry, tasks: bot.runtime, log }),
    ).toBe('function');
  });
});

describe('a setup that never settles', () => {
  it('is logged after its bound and skipped; the other setups still run, and a late clean-up is honoured', async () => {
    const dir = handlersDir({
      'stuck-setup.ts': `
import { z } from 'zod';
export default {
  kind: 'stuck', description: 'd', options: z.object({}), async run() {},
  setup() {
    return new Promise((resolve) => {
      (globalThis as { releaseStuckSetup?: () => void }).releaseStuckSetup = () =>
        resolve(() => { (globalThis as { stuckCleanedUp?: boolean }).stuckCleanedUp = true; });
    });
  },
};
`,
    });
    const { log, lines } = captureLog();
    const registry = await loadHandlers({ dirs: [dir], log });
    bot = await startBot({ fakeTime: false });
    const listenersBefore = bot.client.listenerCount('messageCreate');
    const cleanup = await setupHandlers(registry, {
      client: bot.client,
      db: bot.connection.db,
      tasks: bot.runtime,
      log,
      setupTimeoutMs: 50,
    });
    expect(
      lines.find(
        (line) => line.msg === 'handler setup did not finish within 0.05 s; its handler runs without it',
      ),
    ).toMatchObject({ kind: 'stuck' });
    // The built-in leaderboard's setup still installed its listener.
    expect(bot.client.listenerCount('messageCreate')).toBeGreaterThan(listenersBefore);
    const globals = globalThis as { releaseStuckSetup?: () => void; stuckCleanedUp?: boolean };
    globals.releaseStuckSetup?.();
    await eventually(() => expect(globals.stuckCleanedUp).toBe(true));
    cleanup();
  });
});
