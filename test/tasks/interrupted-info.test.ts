// /task info tells an admin about a run the bot died during, end to end: emulator, discord.js, startBot.
import { afterEach, expect, it } from 'vitest';
import { getTask, listRunIntents, writeRunIntents } from '../../src/db/index.js';
import { INTERRUPTED_RUN } from '../../src/discord/format.js';
import { startTestBot, type TestBot } from '../commands/helpers.js';

let t: TestBot | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

it('shows a run the bot stopped during as interrupted, counted, in words an admin understands', async () => {
  t = await startTestBot();
  const bot = t;
  await bot.run('create slow', { name: 'snail', channel: bot.a.channels.general!, every: '1h', ms: 1 });
  const db = bot.bot.db.db;
  const task = getTask(db, bot.a.id, 'snail')!;
  // The first run happens at creation; once it is recorded, an attempt of a later slot is left open, as
  // a process killed mid-run leaves it, started longer ago than the retry window.
  const slotMs = Date.now() - 10 * 60_000;
  const started = (await waitForRun(bot, 'snail')).task;
  writeRunIntents(db, [{ taskId: task.id, scheduledAt: slotMs, startedAt: slotMs, iteration: 1 }]);

  await bot.restart();
  expect(bot.bot.started.resumed).toMatchObject({ interrupted: 1, replayed: 0 });
  expect(listRunIntents(bot.bot.db.db)).toEqual([]);
  const info = await bot.run('info', { name: 'snail' });
  expect(started.currentLoop).toBe(1);
  expect(info).toContain('Progress: 2 runs done');
  expect(info).toContain(`• <t:${Math.floor(slotMs / 1000)}:f> ${INTERRUPTED_RUN}`);
  expect(info).toMatch(/• <t:\d+:f> ok \(\d+ ms\)/);
}, 30_000);

/** Waits, on the runtime's own records, until the task's first run is recorded. */
async function waitForRun(bot: TestBot, name: string) {
  for (;;) {
    const info = bot.bot.runtime.info(bot.a.id, name);
    if (info.runs.length > 0) return info;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
