// A handler run that meets a database fault (locked, read-only…) is retried like a network error, not failed:
// the executor turns it into a TransientError, so the engine retries the slot with backoff and the task goes on.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createHandlerStore } from '../../src/handlers/executor.js';
import { type Bot, eventually, startBot } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/busy-handlers', import.meta.url));

/** Generous: these wait for the bot's own records on real time, which a loaded machine slows. */
const EVENT_TIMEOUT_MS = 8_000;

let bot: Bot;
afterEach(async () => {
  await bot?.close();
});

describe('a handler run that meets a database fault', () => {
  it.each([
    ['busy', 'the database was busy (locked by another connection)'],
    ['readonly', "the bot's database is read-only"],
  ] as const)(
    '(%s) is retried with backoff and then succeeds; the task stays running',
    async (fault, reason) => {
      // Real time: the retry comes after the engine's first backoff (0.5 to 1 s), whichever clock it reads.
      bot = await startBot({ handlerDirs: [FIXTURES], fakeTime: false });
      const task = await bot.create({ name: 'contended', kind: 'contended', options: { fault } });
      await eventually(
        () => expect(bot.runtime.info(bot.guild.id, 'contended').runs).toHaveLength(1),
        EVENT_TIMEOUT_MS,
      );
      // The oldest run: the retry may already have landed (runs are newest first).
      const retried = bot.runtime.info(bot.guild.id, 'contended').runs.at(-1);
      expect(retried).toMatchObject({ outcome: 'retried', error: reason });
      await eventually(
        () =>
          expect(bot.runtime.info(bot.guild.id, 'contended').runs.map((run) => run.outcome)).toEqual([
            'ok',
            'retried',
          ]),
        EVENT_TIMEOUT_MS,
      );
      expect(bot.runtime.info(bot.guild.id, 'contended').task.state).toBe('running');
      expect(createHandlerStore(bot.connection.db, task.id).get('saved')).toBe(0);
    },
    4 * EVENT_TIMEOUT_MS,
  );
});
