// `npm run sandbox [-- --script FILE] [--verbose]`: Metronome against a local emulated Discord, no token or
// network needed. Type /task commands at the prompt as the demo server's admin and watch the channels.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { prepareScheduleText } from '../src/discord/schedule-input.js';
import { prepareTimeZones } from '../src/discord/time-zones.js';
import { type Session, startSession } from './sandbox/session.js';

const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const scriptIndex = args.indexOf('--script');
const scriptPath = scriptIndex === -1 ? undefined : args[scriptIndex + 1];
if (scriptIndex !== -1 && !scriptPath) {
  console.error('usage: npm run sandbox -- [--script FILE] [--verbose]');
  process.exit(2);
}

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
  let failures = 0;
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
// As `npm start` does: the timezone option's first suggestions are then instant.
prepareTimeZones();
prepareScheduleText();
const session = await startSession({ verbose, print });
let code = 1;
try {
  code = scriptPath ? await runScript(session, scriptPath) : await runPrompt(session);
} finally {
  await session.close();
}
process.exit(code);
