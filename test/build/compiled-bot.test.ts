// The compiled bot as production runs it: `node dist/main.js` under plain node, against the emulator, with
// custom handler modules in TypeScript and in plain JavaScript; and `npm start`, whose npm exits on SIGTERM
// without passing it on. dist/ is built once per test run, and only when it is missing or stale.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIApplicationCommandOption } from 'discord-api-types/v10';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../emulator/index.js';
import { invoke, makeGuild } from '../commands/helpers.js';
import { BUILD_MS, buildDistIfStale } from '../support/build-dist.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(REPO, 'dist/main.js');
const EXAMPLE = join(REPO, 'examples/handlers/question-of-the-day.ts');
const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
/** Generous: a start on a loaded machine (migrations, login, command sync) can take seconds. */
const START_MS = 30_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

beforeAll(buildDistIfStale, BUILD_MS);

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-compiled-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function emulatorWithGuild(): Promise<{ emulator: Emulator; guild: ReturnType<typeof makeGuild> }> {
  const emulator = await startEmulator();
  cleanups.push(() => emulator.close());
  return { emulator, guild: makeGuild(emulator, 'a') };
}

/**
 * A HANDLERS_DIR outside the checkout, as an admin has it: 'metronome' and 'zod' resolve through its
 * node_modules (links to this checkout and its zod).
 */
function handlersDir(files: Record<string, string>, copies: Record<string, string>): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(REPO, join(dir, 'node_modules', 'metronome'), 'dir');
  symlinkSync(join(REPO, 'node_modules', 'zod'), join(dir, 'node_modules', 'zod'), 'dir');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  for (const [name, from] of Object.entries(copies)) copyFileSync(from, join(dir, name));
  return dir;
}

interface LogLine {
  msg: string;
  [field: string]: unknown;
}

interface Started {
  child: ChildProcess;
  /** The JSON log lines written so far (npm's own lines are not JSON and are left out). */
  logs: LogLine[];
  /** Resolves with the first log line with this message, seen or to come; rejects if output ends first. */
  waitForLog(msg: string): Promise<LogLine>;
  exited: Promise<number | null>;
  /** Resolves when nothing holds the child's stdout any more: it and whatever it started have ended. */
  outputEnded: Promise<void>;
  text(): string;
}

function start(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Started {
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  const logs: LogLine[] = [];
  const waiters: { msg: string; resolve: (line: LogLine) => void }[] = [];
  let text = '';
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk;
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const parsed = JSON.parse(line) as LogLine;
      logs.push(parsed);
      for (const waiter of waiters.filter((w) => w.msg === parsed.msg)) waiter.resolve(parsed);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk;
  });
  const outputEnded = new Promise<void>((resolve) => child.stdout!.on('close', resolve));
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    logs,
    waitForLog: (msg) => {
      const seen = logs.find((line) => line.msg === msg);
      if (seen) return Promise.resolve(seen);
      return new Promise<LogLine>((resolve, reject) => {
        waiters.push({ msg, resolve });
        void outputEnded.then(() => reject(new Error(`the output ended before "${msg}":\n${text}`)));
      });
    },
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    outputEnded,
    text: () => text,
  };
}

/** The names of `/task create`'s subcommands as Discord received them: one per handler kind. */
function createKinds(emulator: Emulator): string[] {
  const task = emulator.commands.list(null).find((command) => command.name === 'task');
  const create = task?.options?.find((option) => option.name === 'create') as
    | { options?: APIApplicationCommandOption[] }
    | undefined;
  return (create?.options ?? []).map((option) => option.name);
}

/**
 * `node dist/main.js` (this checkout's, or the copy at `main`) in a fresh folder, on the emulator, with these
 * handler modules; resolves once started.
 */
async function startCompiled(emulator: Emulator, handlers: string, main = MAIN): Promise<Started> {
  const bot = start(process.execPath, [main], tempDir(), {
    DISCORD_TOKEN: emulator.token,
    DISCORD_API_BASE: emulator.apiBase,
    DATABASE_PATH: './data/bot.db',
    HANDLERS_DIR: handlers,
    LOG_LEVEL: 'info',
  });
  await bot.waitForLog('tasks resumed');
  return bot;
}

/** Creates a task with /task and waits for its first post (due at once: the schedule is relative). */
async function createAndSeePost(
  emulator: Emulator,
  guild: ReturnType<typeof makeGuild>,
  bot: Started,
  task: { kind: string; options: Record<string, string>; post: RegExp },
): Promise<void> {
  const general = guild.channels.general!;
  const reply = await invoke(
    emulator,
    `create ${task.kind}`,
    { name: task.kind, channel: general, every: '1h', ...task.options },
    { guild },
  );
  await emulator
    .waitForMessage(general, (m) => task.post.test(m.content), { timeoutMs: START_MS })
    .catch((error: Error) => {
      throw new Error(`${error.message}\n/task replied: ${reply.content}\nthe bot wrote:\n${bot.text()}`);
    });
}

const QOTD = {
  kind: 'qotd',
  options: { questions: 'Tea or coffee? | Tabs or spaces?' },
  post: /^\*\*Question of the day #1\*\*\n/,
};

it('node dist/main.js loads .ts and .js handler modules, runs their tasks, skips a broken one, and exits 0 on SIGTERM', async () => {
  const { emulator, guild } = await emulatorWithGuild();
  // An ES module folder, as a handlers folder with its own node_modules has a package.json.
  const handlers = handlersDir(
    { 'package.json': '{ "type": "module" }\n', 'broken.ts': 'export default {\n' },
    {
      'question-of-the-day.ts': EXAMPLE,
      'ping.js': join(FIXTURES, 'ping.js'),
      'flaky.ts': join(FIXTURES, 'flaky.ts'),
    },
  );
  const bot = await startCompiled(emulator, handlers);

  expect(createKinds(emulator)).toEqual(['counter', 'leaderboard', 'reminder', 'flaky', 'ping', 'qotd']);
  expect(bot.logs).toContainEqual(
    expect.objectContaining({
      msg: 'handler module skipped',
      path: join(handlers, 'broken.ts'),
      reason: expect.stringMatching(/^it threw while loading: /),
    }),
  );
  await createAndSeePost(emulator, guild, bot, QOTD);
  await createAndSeePost(emulator, guild, bot, {
    kind: 'ping',
    options: {},
    post: /^pong from a \.js module$/,
  });
  // Posted only if its TransientError was the runtime's own, so retried (within a second of backoff).
  await createAndSeePost(emulator, guild, bot, {
    kind: 'flaky',
    options: {},
    post: /^posted on the retry by a \.ts module$/,
  });

  bot.child.kill('SIGTERM');
  expect(await bot.exited).toBe(0);
  const messages = bot.logs.map((line) => line.msg);
  expect(messages).toContain('shutting down: letting running iterations finish');
  expect(messages.at(-1)).toBe('stopped');
  expect(bot.text()).not.toContain(emulator.token);
}, 120_000);

it('node dist/main.js loads a .ts module from a folder node treats as CommonJS (no package.json)', async () => {
  const { emulator, guild } = await emulatorWithGuild();
  const bot = await startCompiled(emulator, handlersDir({}, { 'question-of-the-day.ts': EXAMPLE }));
  expect(createKinds(emulator)).toEqual(['counter', 'leaderboard', 'reminder', 'qotd']);
  await createAndSeePost(emulator, guild, bot, QOTD);
  bot.child.kill('SIGTERM');
  expect(await bot.exited).toBe(0);
}, 120_000);

it('without tsx installed, the compiled bot skips a .ts module with a sentence saying what to do and loads the .js ones', async () => {
  // A copy of the installed bot whose node_modules lacks tsx, as after an install that left it out.
  const root = tempDir();
  cpSync(join(REPO, 'dist'), join(root, 'dist'), { recursive: true });
  copyFileSync(join(REPO, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(REPO, 'migrations'), join(root, 'migrations'), 'dir');
  mkdirSync(join(root, 'node_modules'));
  for (const name of readdirSync(join(REPO, 'node_modules'))) {
    if (name !== 'tsx' && !name.startsWith('.')) {
      symlinkSync(join(REPO, 'node_modules', name), join(root, 'node_modules', name));
    }
  }
  const handlers = handlersDir(
    { 'package.json': '{ "type": "module" }\n' },
    { 'question-of-the-day.ts': EXAMPLE, 'ping.js': join(FIXTURES, 'ping.js') },
  );
  rmSync(join(handlers, 'node_modules', 'metronome'));
  symlinkSync(root, join(handlers, 'node_modules', 'metronome'), 'dir');
  const { emulator } = await emulatorWithGuild();
  const bot = await startCompiled(emulator, handlers, join(root, 'dist/main.js'));
  expect(createKinds(emulator)).toEqual(['counter', 'leaderboard', 'reminder', 'ping']);
  expect(bot.logs).toContainEqual(
    expect.objectContaining({
      msg: 'handler module skipped',
      path: join(handlers, 'question-of-the-day.ts'),
      reason: expect.stringMatching(
        /^it is TypeScript, and tsx \(which compiles it on load\) could not be loaded: .+; compile it to \.js or reinstall with npm ci$/,
      ),
    }),
  );
  bot.child.kill('SIGTERM');
  expect(await bot.exited).toBe(0);
}, 120_000);

it('a plain JavaScript program imports the loop engine from metronome/loop: the compiled code, with its types', async () => {
  const dir = handlersDir(
    {
      'package.json': '{ "type": "module" }\n',
      'ticks.js': [
        "import { loop } from 'metronome/loop';",
        "console.log(import.meta.resolve('metronome/loop'));",
        'const ticker = loop({ seconds: 0, count: 3 }, (label, { iteration }) => console.log(label, iteration));',
        "await ticker.start('tick');",
      ].join('\n'),
    },
    {},
  );
  const program = start(process.execPath, [join(dir, 'ticks.js')], dir, {});
  expect(await program.exited).toBe(0);
  expect(program.text()).toBe(`file://${join(REPO, 'dist/loop/index.js')}\ntick 0\ntick 1\ntick 2\n`);
  expect(existsSync(join(REPO, 'dist/loop/index.d.ts'))).toBe(true);
  expect(existsSync(join(REPO, 'dist/index.d.ts'))).toBe(true);
});

it('npm start runs the compiled bot and stops it gracefully when npm is sent SIGTERM and exits', async () => {
  const { emulator } = await emulatorWithGuild();
  const npm = start('npm', ['start'], REPO, {
    DISCORD_TOKEN: emulator.token,
    DISCORD_API_BASE: emulator.apiBase,
    DATABASE_PATH: join(tempDir(), 'bot.db'),
    HANDLERS_DIR: '',
    LOG_LEVEL: 'info',
  });
  await npm.waitForLog('tasks resumed');
  npm.child.kill('SIGTERM');
  await npm.exited;
  // npm is gone; the bot, left to init, notices and stops as on its own SIGTERM.
  await npm.outputEnded;
  const messages = npm.logs.map((line) => line.msg);
  expect(messages).toContain('shutting down: letting running iterations finish');
  expect(messages.at(-1)).toBe('stopped');
}, 300_000);
