// A command that meets a locked database waits it out on timers (the runtime retries the work it runs
// under its per-task lock), so the bot keeps answering: the reply is deferred, and the command goes through
// once the lock is released, or says the database is busy when it is not released in time. Either way
// the member hears back within Discord's 3 seconds and the event loop is never blocked for long.
import Sqlite from 'better-sqlite3';
import { InteractionResponseType } from 'discord-api-types/v10';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_FAULT_SENTENCES } from '../../src/db/errors.js';
import { splitPath, startTestBot, type TestBot } from './helpers.js';

const DISCORD_DEADLINE_MS = 3_000;

let t: TestBot;
let other: Sqlite.Database;
beforeAll(async () => {
  // Deferred well before the busy retries give up, so "released while waiting" has room on a slow machine.
  t = await startTestBot({ deferAfterMs: 200 });
  other = new Sqlite(t.databasePath);
  for (const name of ['alpha', 'beta']) {
    await t.run('create reminder', { name, channel: t.a.channels.general!, every: '1h', message: name });
  }
});
afterAll(async () => {
  if (other?.inTransaction) other.exec('ROLLBACK');
  other?.close();
  await t?.close();
});

function invoke(path: string, options: Record<string, string>) {
  return t.emulator.invokeSlash({
    command: 'task',
    ...splitPath(path),
    options,
    user: t.a.admin,
    guild: t.a.id,
    channel: t.a.channels.general!,
  });
}

describe('a command on a locked database', () => {
  it('goes through once the lock is released while it waits', async () => {
    other.exec('BEGIN IMMEDIATE');
    const startedAt = Date.now();
    const handle = invoke('stop', { name: 'alpha' });
    try {
      const ack = await handle.waitForAck({ timeoutMs: DISCORD_DEADLINE_MS });
      expect(ack.type).toBe(InteractionResponseType.DeferredChannelMessageWithSource);
    } finally {
      other.exec('ROLLBACK');
    }
    const reply = await handle.waitForReply(undefined, { timeoutMs: DISCORD_DEADLINE_MS });
    expect(reply.content).toMatch(/^Stopped \*\*alpha\*\*/);
    expect(Date.now() - startedAt).toBeLessThan(DISCORD_DEADLINE_MS);
  });

  it('says the database is busy when the lock outlasts the retries, without blocking the bot', async () => {
    // The longest the event loop was held at once: the gap between ticks of a 5 ms interval.
    let lastTick = performance.now();
    let longestBlockMs = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longestBlockMs = Math.max(longestBlockMs, now - lastTick);
      lastTick = now;
    }, 5);
    other.exec('BEGIN IMMEDIATE');
    const startedAt = Date.now();
    try {
      const handle = invoke('stop', { name: 'beta' });
      const reply = await handle.waitForReply(undefined, { timeoutMs: 2 * DISCORD_DEADLINE_MS });
      // SQLite's own busy wait blocks for ~100 ms per attempt; a 5 s busy_timeout would show here as 5 s.
      expect(longestBlockMs).toBeLessThan(1_000);
      expect(reply.content).toBe(DATABASE_FAULT_SENTENCES.busy);
      expect(Date.now() - startedAt).toBeLessThan(DISCORD_DEADLINE_MS);
    } finally {
      clearInterval(ticker);
      other.exec('ROLLBACK');
    }
    expect(await t.run('stop', { name: 'beta' })).toMatch(/^Stopped \*\*beta\*\*/);
  });
});
