// Shards with one process per bot on one database, through the emulator's per-shard dispatch: every task runs
// once, every server's commands are answered by the bot holding it, only shard 0's bot registers the
// commands, and a second bot for a held shard, or with another shard count, is refused in one sentence.
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../emulator/index.js';
import { StartupError } from '../../src/bot.js';
import { invoke } from '../commands/helpers.js';
import {
  commandPuts,
  createReminder,
  postsOf,
  type ShardBot,
  type ShardWorld,
  shardWorld,
  startShardBot,
} from './helpers.js';

let world: ShardWorld | undefined;
const bots: ShardBot[] = [];
afterEach(async () => {
  for (const { bot } of bots.splice(0)) await bot.stop();
  await world?.close();
  world = undefined;
});

async function start(w: ShardWorld, count: number, ids: number[]): Promise<ShardBot> {
  const started = await startShardBot(w, { count, ids });
  bots.push(started);
  return started;
}

describe.each([2, 4])('%i shards in one process', (count) => {
  it('answers commands in every server and runs each task exactly once', async () => {
    world = await shardWorld(count);
    const { emulator, guilds } = world;
    const { bot } = await start(world, count, [...Array(count).keys()]);
    expect(bot.client.ws.shards.size).toBe(count);

    await Promise.all(guilds.map((guild) => createReminder(emulator, guild)));
    // A command after the posts: anything a second run would have sent is in by its reply.
    for (const guild of guilds) await invoke(emulator, 'list', {}, { guild });
    expect(guilds.map((guild) => postsOf(emulator, guild))).toEqual(guilds.map(() => 1));
    expect(commandPuts(emulator)).toBe(1);
  }, 30_000);
});

describe('2 shards in two bots on one database', () => {
  it('answers each server from the bot holding it, runs each task once, and resumes only its own', async () => {
    world = await shardWorld(2);
    const { emulator, guilds, byShard } = world;
    const zero = await start(world, 2, [0]);
    const one = await start(world, 2, [1]);
    // Only the bot holding shard 0 registers the commands.
    expect(zero.bot.started.commands).toBe('updated');
    expect(one.bot.started.commands).toBe('by shard 0');
    expect(commandPuts(emulator)).toBe(1);

    await Promise.all(guilds.map((guild) => createReminder(emulator, guild)));
    // Shard 1's bot restarts: it resumes its own tasks only, and none runs again (hourly, just run).
    const oneTasks = byShard[1]!.length;
    await one.bot.stop();
    bots.splice(bots.indexOf(one), 1);
    const again = await start(world, 2, [1]);
    expect(again.bot.started.resumed).toMatchObject({ resumed: oneTasks });
    for (const guild of guilds) await invoke(emulator, 'list', {}, { guild });
    expect(guilds.map((guild) => postsOf(emulator, guild))).toEqual(guilds.map(() => 1));
    expect(commandPuts(emulator)).toBe(1);
  }, 30_000);

  it('refuses a second bot for a held shard, and one with another shard count, in one sentence each', async () => {
    world = await shardWorld(2);
    await start(world, 2, [1]);
    const refusal = (count: number, ids: number[]) =>
      startShardBot(world!, { count, ids }).then(
        (started) => {
          bots.push(started);
          throw new Error('not refused');
        },
        (error: unknown) => error,
      );
    const held = await refusal(2, [0, 1]);
    expect(held).toBeInstanceOf(StartupError);
    expect((held as Error).message).toBe(
      `Another Metronome is already running shard 1 of 2 on ${world.databasePath} (pid ${process.pid}). ` +
        'Stop it first, or point DATABASE_PATH at another file.',
    );
    const recount = await refusal(4, [0]);
    expect(recount).toBeInstanceOf(StartupError);
    expect((recount as Error).message).toBe(
      `Another Metronome runs ${world.databasePath} with SHARD_COUNT=2 (pid ${process.pid}), and this one has 4 ` +
        "shards: they would split the servers differently and run some servers' tasks twice. Stop every " +
        'Metronome on this database to change the shard count.',
    );
    // Shard 0 was let go with the refused group: it can still start.
    await start(world, 2, [0]);
  }, 30_000);
});

describe('too few shards', () => {
  it('stops the bot in one sentence when Discord requires more shards (4011)', async () => {
    const emulator = await startEmulator({ maxGuildsPerShard: 1 });
    const w = await shardWorld(1, emulator);
    world = w;
    // Two guilds on the one shard, one more than this emulator's Discord allows.
    const refused = await start(w, 1, [0]).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StartupError);
    expect((refused as Error).message).toBe(
      'Discord requires more shards for the servers this bot is in (close code 4011). Set SHARD_COUNT=auto ' +
        '(or a larger number) in .env, then start Metronome again.',
    );
  });
});
