// `npm start`: read the configuration (from .env if there is one), decide how many shards to run, and run
// them: one process for a small bot (the watchdog and the bot, stopped gracefully on SIGINT/SIGTERM), or a
// manager of shard processes when they do not fit in one (src/shard/manager.ts). A configuration problem
// is printed as its own lines, never a stack trace.
// The bot and the manager are imported only by the process that runs them: a manager that loaded the whole
// bot would hold its memory for nothing.
import { createLogger } from './log.js';
import { readConfigOrExit } from './shard/lifecycle.js';
import { isTokenRefused, planShards, type ShardPlan, shardGroups } from './shard/plan.js';

const config = readConfigOrExit();
const log = createLogger({ level: config.logLevel, token: config.discordToken });

async function plan(): Promise<ShardPlan> {
  try {
    return await planShards(config);
  } catch (error) {
    if (isTokenRefused(error)) {
      const { TOKEN_REFUSED } = await import('./bot.js');
      log.fatal(TOKEN_REFUSED);
      process.stderr.write(`${TOKEN_REFUSED}\n`);
      process.exit(1);
    }
    // Discord out of reach: start as one process, so the database is still checked and the bot connects once
    // Discord answers; if one shard is too few for its servers, Discord closes with 4011, which says so.
    const count = config.shardCount === 'auto' ? 1 : config.shardCount;
    log.warn(
      { err: error, shardCount: count },
      `could not ask Discord how many shards to run (${(error as Error).message}); starting with ${count}`,
    );
    return { count, groups: shardGroups(count, config.shardsPerProcess), maxConcurrency: 1 };
  }
}

const shards = await plan();
const [only, ...more] = shards.groups;
if (only !== undefined && more.length === 0) {
  // discord.js reads SHARD_COUNT and SHARDS itself: tell it what SHARD_COUNT=auto came to.
  process.env.SHARD_COUNT = String(shards.count);
  delete process.env.SHARDS;
  const { runBotProcess } = await import('./shard/bot-process.js');
  await runBotProcess({ config, log, shards: { count: shards.count, ids: only }, managed: false });
} else {
  const { runManager } = await import('./shard/manager.js');
  await runManager({ config, log, plan: shards });
}
