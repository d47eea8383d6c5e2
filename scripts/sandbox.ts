// `npm run sandbox [-- --script FILE] [--handlers DIR] [--verbose]`: Metronome against a local emulated
// Discord, no token or network needed. Type /task commands at the prompt as the demo server's admin and watch
// the channels. Handler modules in DIR (or HANDLERS_DIR from .env) load beside the built-ins, and at the
// prompt an edit to one reloads it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadDotEnv } from '../src/config.js';
import type { Session } from './sandbox/session.js';

const USAGE = 'usage: npm run sandbox -- [--script FILE] [--handlers DIR] [--verbose]';

function readArgs(): { script?: string; handlers?: string; verbose: boolean } {
  try {
    const { values } = parseArgs({
      options: {
        script: { type: 'string' },
        handlers: { type: 'string' },
        verbose: { type: 'boolean', default: false },
      },
    });
    return { script: values.script, handlers: values.handlers, verbose: values.verbose ?? false };
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

/** --handlers DIR, else HANDLERS_DIR (the environment's, else .env's, as `npm start` reads it); no token needed. */
function handlersFolder(flag: string | undefined): string | undefined {
  loadDotEnv();
  const dir = flag ?? (process.env.HANDLERS_DIR?.trim() || undefined);
  if (dir === undefined) return undefined;
  const from = flag === undefined ? 'HANDLERS_DIR' : '--handlers';
  if (!existsSync(dir)) {
    console.error(`${from} names ${dir}, and there is no such folder.`);
    process.exit(2);
  }
  if (!statSync(dir).isDirectory()) {
    console.error(`${from} names ${dir}, which is a file: give the folder that holds your handler modules.`);
    process.exit(2);
  }
  return dir;
}

const { script: scriptPath, handlers, verbose } = readArgs();
const handlersDir = handlersFolder(handlers);

const WAIT = /^wait\s+(\d+(?:\.\d+)?)\s*(ms|s|m)?$/i;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000 };

/** Runs one line; returns false when it failed (unknown directive, refused command, no answer). */
async function runLine(session: Session, line: string): Promise<boolean | 'exit'> {
  const text = line.trim();
  if (text === '' || text.startsWith('#')) return true;
  if (text === 'exit' || text === 'quit') return 'exit';
  if (text === 'help') {
    console.log(session.help());
    return true;
  }
  const wait = WAIT.exec(text);
  if (wait) {
    await new Promise((resolve) =>
      setTimeout(resolve, Number(wait[1]) * UNIT_MS[(wait[2] ?? 's').toLowerCase()]!),
    );
    return true;
  }
  const press = /^press\s+(.+)$/i.exec(text);
  if (press) return session.press(press[1]!);
  if (!/^\/?task\b/.test(text)) {
    console.log(`✗ "${text}" is not a /task command, wait, press, help or exit`);
    return false;
  }
  return session.run(text);
}

async function runScript(session: Session, path: string): Promise<number> {
  // A module that fails to load fails the script: the sandbox can gate a handler's CI.
  let failures = session.loadProblems.length;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const text = line.trim();
    if (text !== '' && !text.startsWith('#')) console.log(`> ${text}`);
    const result = await runLine(session, text);
    if (result === 'exit') break;
    if (!result) failures++;
  }
  // Let posts triggered by the last command arrive before closing.
  await new Promise((resolve) => setTimeout(resolve, 200));
  return failures === 0 ? 0 : 1;
}

async function runPrompt(session: Session): Promise<number> {
  const prompt = createInterface({ input: process.stdin, output: process.stdout, prompt: 'metronome> ' });
  console.log(
    'Metronome sandbox: a demo server on a local emulator. Type help, or /task list. exit to leave.',
  );
  prompt.prompt();
  for await (const line of prompt) {
    if ((await runLine(session, line)) === 'exit') break;
    prompt.prompt();
  }
  prompt.close();
  return 0;
}

const print = (line: string) => {
  // Keep what arrives between commands from running into the prompt line.
  if (scriptPath === undefined && process.stdout.isTTY) process.stdout.write('\r\x1b[K');
  console.log(line);
};
// Imported once the arguments are known good: a mistyped flag is answered at once, not after loading the bot.
const [{ startSession }, { prepareTimeZones }, { prepareScheduleText }] = await Promise.all([
  import('./sandbox/session.js'),
  import('../src/discord/time-zones.js'),
  import('../src/discord/schedule-input.js'),
]);
// As `npm start` does: the timezone option's first suggestions are then instant.
prepareTimeZones();
prepareScheduleText();
const session = await startSession({ verbose, print, handlersDir, liveReload: scriptPath === undefined });
let code = 1;
try {
  code = scriptPath ? await runScript(session, scriptPath) : await runPrompt(session);
} finally {
  await session.close();
}
process.exit(code);
