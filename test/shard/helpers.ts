// A sharded world for the tests: an emulator whose guilds fall on every shard, and bots holding some shards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Emulator, shardOfGuild, startEmulator } from '../../emulator/index.js';
import { type Bot, startBot } from '../../src/bot.js';
import { createLogger } from '../../src/log.js';
import type { ShardScope } from '../../src/tasks/shard-scope.js';
import { invoke, makeGuild, type TestGuild } from '../commands/helpers.js';

export interface ShardWorld {
  emulator: Emulator;
  /** Two guilds per shard, `byShard[i]` those of shard i. */
  guilds: TestGuild[];
  byShard: TestGuild[][];
  databasePath: string;
  close(): Promise<void>;
}

/** An emulator (or `emulator`) where every shard of `count` holds two guilds, and a fresh database path. */
export async function shardWorld(count: number, given?: Emulator): Promise<ShardWorld> {
  // Every shard may IDENTIFY at once, so a test does not wait discord.js's 5 s between shards.
  const emulator = given ?? (await startEmulator({ sessionStartLimit: { maxConcurrency: count } }));
  // Guilds made one after another take consecutive milliseconds, so consecutive shards.
  const guilds = Array.from({ length: 2 * count }, (_, i) => makeGuild(emulator, `g${i}`));
  const byShard = Array.from({ length: count }, (_, shard) =>
    guilds.filter((guild) => shardOfGuild(guild.id, count) === shard),
  );
  if (byShard.some((held) => held.length === 0)) throw new Error('a shard holds no guild');
  const dir = mkdtempSync(join(tmpdir(), 'metronome-shards-'));
  return {
    emulator,
    guilds,
    byShard,
    databasePath: join(dir, 'bot.db'),
    close: async () => {
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ShardBot {
  bot: Bot;
  logs: Record<string, unknown>[];
}

/** A bot on the world's database holding `shards`. */
export async function startShardBot(world: ShardWorld, shards: ShardScope): Promise<ShardBot> {
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  const bot = await startBot({
    config: {
      discordToken: world.emulator.token,
      databasePath: world.databasePath,
      handlersDir: undefined,
      devGuildId: undefined,
      discordApiBase: world.emulator.apiBase,
    },
    log: createLogger({ level: 'info', destination, token: world.emulator.token }),
    clientOptions: { testing: true, restTimeoutMs: 2_000, restRetries: 1 },
    shards,
  });
  return { bot, logs };
}

/** The text a guild's reminder posts. */
export const reminderText = (guild: TestGuild) => `hello from ${guild.id}`;

/** Creates an hourly reminder in the guild's #general (its first run is at once) and waits for its post. */
export async function createReminder(emulator: Emulator, guild: TestGuild): Promise<string> {
  const channel = guild.channels.general!;
  const posted = emulator.waitForMessage(channel, (m) => m.content === reminderText(guild), {
    timeoutMs: 15_000,
  });
  const reply = await invoke(
    emulator,
    'create reminder',
    { name: 'pulse', channel, every: '1h', message: reminderText(guild) },
    { guild },
  );
  await posted;
  return reply.content;
}

/** How many times the guild's reminder has posted. */
export function postsOf(emulator: Emulator, guild: TestGuild): number {
  return emulator.world
    .messages(guild.channels.general!)
    .filter((record) => record.message.content === reminderText(guild)).length;
}

/** How many times the commands were registered (PUT of the application's command list). */
export function commandPuts(emulator: Emulator): number {
  return emulator.requests.filter((r) => r.method === 'PUT' && r.path.includes('/commands')).length;
}
