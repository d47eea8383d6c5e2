// One Metronome per database: a second bot on the same file is refused in one sentence, and a lock left by
// a process that died is taken over.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bot, StartupError, startBot } from '../../src/bot.js';
import { acquireDatabaseLock, DatabaseLockedError, lockPathFor } from '../../src/db/lock.js';
import { createLogger } from '../../src/log.js';
import { startTestBot, type TestBot } from '../commands/helpers.js';

let t: TestBot | undefined;
const others: Bot[] = [];
afterEach(async () => {
  for (const bot of others.splice(0)) await bot.stop();
  await t?.close();
  t = undefined;
});

/** Another bot on t's emulator and database. */
function secondBot(test: TestBot): Promise<Bot> {
  return startBot({
    config: {
      discordToken: test.emulator.token,
      databasePath: test.databasePath,
      handlersDir: undefined,
      devGuildId: undefined,
      discordApiBase: test.emulator.apiBase,
    },
    log: createLogger({ level: 'silent' }),
    clientOptions: { testing: true, restTimeoutMs: 2_000, restRetries: 1 },
  });
}

const deadPid = (): number => {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
};

describe('single-instance lock', () => {
  it('refuses a second bot on the same database, and lets it start once the first has stopped', async () => {
    t = await startTestBot();
    const lockPath = lockPathFor(t.databasePath);
    expect(readFileSync(lockPath, 'utf8').trim()).toBe(String(process.pid));

    const refused = await secondBot(t).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(StartupError);
    expect((refused as Error).message).toBe(
      `Another Metronome is already running on ${t.databasePath} (pid ${process.pid}). Stop it first, ` +
        'or point DATABASE_PATH at another file.',
    );
    // The refused start touched nothing: the first bot still holds the lock and still answers.
    expect(readFileSync(lockPath, 'utf8').trim()).toBe(String(process.pid));
    expect(await t.run('list')).toContain('no tasks yet');

    await t.bot.stop();
    expect(existsSync(lockPath)).toBe(false);
    const second = await secondBot(t);
    others.push(second);
    expect(existsSync(lockPath)).toBe(true);
    await second.stop(); // stopping twice (here and after the test) is harmless
    expect(existsSync(lockPath)).toBe(false);
  });

  it('takes over a lock left by a process that is gone', async () => {
    t = await startTestBot();
    await t.bot.stop();
    writeFileSync(lockPathFor(t.databasePath), `${deadPid()}\n`);
    const bot = await secondBot(t);
    others.push(bot);
    expect(readFileSync(lockPathFor(t.databasePath), 'utf8').trim()).toBe(String(process.pid));
  });
});

describe('acquireDatabaseLock', () => {
  it('refuses a lock held by another live process, and names it', async () => {
    t = await startTestBot();
    await t.bot.stop();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      writeFileSync(lockPathFor(t.databasePath), `${child.pid}\n`);
      expect(() => acquireDatabaseLock(t!.databasePath)).toThrow(DatabaseLockedError);
      try {
        acquireDatabaseLock(t.databasePath);
      } catch (error) {
        expect((error as DatabaseLockedError).pid).toBe(child.pid);
      }
    } finally {
      child.kill();
      await new Promise((resolve) => child.once('exit', resolve));
    }
    // Now that process is gone, its lock is stale.
    const lock = acquireDatabaseLock(t.databasePath);
    lock.release();
    expect(existsSync(lockPathFor(t.databasePath))).toBe(false);
  });

  it('takes over a lock naming our own pid that this process does not hold (a restarted container)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metronome-lock-'));
    const database = join(dir, 'bot.db');
    const first = acquireDatabaseLock(database);
    expect(() => acquireDatabaseLock(database)).toThrow(DatabaseLockedError);
    first.release();
    writeFileSync(lockPathFor(database), `${process.pid}\n`);
    const again = acquireDatabaseLock(database);
    again.release();
    expect(existsSync(lockPathFor(database))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('needs no lock for an in-memory database', () => {
    const a = acquireDatabaseLock(':memory:');
    const b = acquireDatabaseLock(':memory:');
    a.release();
    b.release();
  });
});
