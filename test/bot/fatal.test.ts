// When Discord refuses the bot for good, start-up fails fast with a sentence the owner can act on, and a
// refusal after start-up is reported instead of leaving a silent, disconnected bot.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { GatewayCloseCodes } from 'discord.js';
import { afterEach, expect, it } from 'vitest';
import { type Emulator, type EmulatorOptions, startEmulator } from '../../emulator/index.js';
import { type Bot, StartupError, startBot } from '../../src/bot.js';
import { createLogger } from '../../src/log.js';

let emulator: Emulator | undefined;
let bot: Bot | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await bot?.stop();
  await emulator?.close();
  bot = undefined;
  emulator = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function launch(
  options: EmulatorOptions & { badToken?: boolean; onFatal?: (e: StartupError) => void },
) {
  emulator = await startEmulator(options);
  emulator.world.createGuild({ name: 'Guild' });
  const dir = mkdtempSync(join(tmpdir(), 'metronome-fatal-'));
  dirs.push(dir);
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const started = startBot({
    config: {
      discordToken: options.badToken ? 'not-the-token' : emulator.token,
      databasePath: join(dir, 'bot.db'),
      handlersDir: undefined,
      devGuildId: undefined,
      discordApiBase: emulator.apiBase,
    },
    log: createLogger({ level: 'warn', destination }),
    clientOptions: { testing: true, restTimeoutMs: 2_000, restRetries: 0 },
    onFatal: options.onFatal,
  });
  return { started, lines };
}

it('names the Server Members intent when Discord refuses it (close 4014), instead of waiting forever', async () => {
  const { started } = await launch({ enabledPrivilegedIntents: 0, strict: false });
  const error = await started.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StartupError);
  expect((error as Error).message).toMatch(
    /^Discord refused the Server Members intent\. Enable it in the Developer Portal/,
  );
});

it('says the token was refused when Discord answers 401', async () => {
  const { started } = await launch({ badToken: true, strict: false });
  await expect(started).rejects.toThrow(/^Discord refused the bot token \(DISCORD_TOKEN\)/);
});

it('reports a for-good close after start-up (token reset) through onFatal, once', async () => {
  const fatal: StartupError[] = [];
  const { started, lines } = await launch({ onFatal: (error) => fatal.push(error) });
  bot = await started;
  emulator!.gateway.close(GatewayCloseCodes.AuthenticationFailed, 'Authentication failed');
  await expect.poll(() => fatal.length).toBe(1);
  expect(fatal[0]!.message).toMatch(/^Discord refused the bot token/);
  expect(lines.join('')).toContain('"level":60');
});
