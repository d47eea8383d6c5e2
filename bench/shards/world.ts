// The shards bench's Discord and database: an emulated world of many large servers, and a fresh database
// seeded in SQL with the tasks a scenario runs against that world's real guild and channel ids.
import Sqlite from 'better-sqlite3';
import { type Emulator, shardOfGuild, startEmulator } from '../../emulator/index.js';
import { openDatabase } from '../../src/db/index.js';

/** One server of the world, with what the bench needs to seed tasks and send commands there. */
export interface BenchGuild {
  id: string;
  /** A text channel: the tasks' channel and where commands are sent from. */
  textChannel: string;
  /** A voice channel, which a counter renames. */
  voiceChannel: string;
  /** A member with a Manage Server role, who may use /task. */
  admin: string;
}

export interface BenchWorld {
  emulator: Emulator;
  guilds: BenchGuild[];
  buildMs: number;
}

/**
 * `guildCount` servers of `memberCount` members each (synthetic, 1 % bots), each with an admin, a text and a
 * voice channel. The emulator keeps few frames, and starts shards as Discord does for a bot this size
 * (max_concurrency 1: discord.js spaces the processes' IDENTIFYs 5 s apart). `maxGuildsPerShard` above
 * Discord's 2,500 lets the bench run fewer shards than Discord would allow (it closes with 4011).
 */
export async function buildWorld(
  guildCount: number,
  memberCount: number,
  maxGuildsPerShard: number,
): Promise<BenchWorld> {
  const emulator = await startEmulator({ gatewayFrameHistory: 1_000, strict: false, maxGuildsPerShard });
  const started = performance.now();
  const guilds: BenchGuild[] = [];
  for (let i = 0; i < guildCount; i++) {
    const guild = emulator.world.createGuild({
      name: `Server ${i}`,
      roles: [{ name: 'Admins', permissions: ['ManageGuild'] }],
      channels: [{ name: 'general' }, { name: 'Members', type: 'voice' }],
      members: [{ user: { username: `admin-${i}` }, roles: ['Admins'] }],
      memberCount,
      botCount: Math.max(1, Math.floor(memberCount / 100)),
    });
    guilds.push({
      id: guild.id,
      textChannel: guild.channels.general!,
      voiceChannel: guild.channels.Members!,
      admin: guild.members[`admin-${i}`]!,
    });
  }
  return { emulator, guilds, buildMs: performance.now() - started };
}

/** How many of the guilds each shard holds, by Discord's formula. */
export function guildsPerShard(guilds: readonly BenchGuild[], shardCount: number): number[] {
  const counts = new Array<number>(shardCount).fill(0);
  for (const guild of guilds) counts[shardOfGuild(guild.id, shardCount)]!++;
  return counts;
}

export interface SeedSpec {
  path: string;
  guilds: readonly BenchGuild[];
  /** Tasks to seed, spread round-robin over `guildsWithTasks` of the guilds (the first ones). */
  taskCount: number;
  guildsWithTasks: number;
  kind: string;
  options: Record<string, unknown>;
  /** Which of a guild's channels the tasks name. */
  channel: 'text' | 'voice';
  intervalSeconds: number;
}

/**
 * Migrates a fresh database (openDatabase, as the bot would) and inserts the running tasks in one statement,
 * as bench/runtime.ts does: slots spread evenly over the interval, so fires arrive evenly, as with tasks
 * created at different times. Returns how long the insert took.
 */
export function seedTasks(spec: SeedSpec): number {
  openDatabase(spec.path).close();
  const started = performance.now();
  const sqlite = new Sqlite(spec.path);
  try {
    sqlite.exec('CREATE TEMP TABLE bench_guilds (n INTEGER PRIMARY KEY, guild_id TEXT, channel_id TEXT)');
    const insertGuild = sqlite.prepare('INSERT INTO bench_guilds VALUES (?, ?, ?)');
    sqlite.transaction(() => {
      spec.guilds.slice(0, spec.guildsWithTasks).forEach((guild, n) => {
        insertGuild.run(n, guild.id, spec.channel === 'text' ? guild.textChannel : guild.voiceChannel);
      });
    })();
    const intervalMs = spec.intervalSeconds * 1000;
    const now = Date.now();
    sqlite
      .prepare(
        `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < @tasks - 1)
         INSERT INTO tasks (guild_id, name, kind, options, schedule, count, catch_up, state, current_loop,
                            last_run_at, next_run_at, timeout_ms, channel_id, created_by, created_at, updated_at)
         SELECT g.guild_id, 'task-' || i, @kind, @options, @schedule, NULL, 'skip', 'running', 0,
                NULL, @now + @interval + (i * 7919 % @interval), 60000, g.channel_id, 'bench', @now, @now
         FROM seq JOIN bench_guilds g ON g.n = i % @guilds`,
      )
      .run({
        tasks: spec.taskCount,
        guilds: spec.guildsWithTasks,
        kind: spec.kind,
        options: JSON.stringify(spec.options),
        schedule: JSON.stringify({ kind: 'interval', seconds: spec.intervalSeconds }),
        interval: intervalMs,
        now,
      });
  } finally {
    sqlite.close();
  }
  return performance.now() - started;
}
