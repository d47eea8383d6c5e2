// `npm start`: read the configuration (from .env if there is one), decide how many shards to run, and run
// them: one process for a small bot (the watchdog and the bot, stopped gracefully on SIGINT/SIGTERM), or a
// manager of shard processes when they do not fit in one (src/shard/manager.ts). A configuration problem
// is printed as its own lines, never a stack trace.
import { TOKEN_REFUSED } from './bot.js';
import { createLogger } from './log.js';
import { readConfigOrExit, runBotProcess } from './shard/bot-process.js';
import { runManager } from './shard/manager.js';
import { isTokenRefused, planShards, type ShardPlan } from './shard/plan.js';

const config = readConfigOrExit();
const log = createLogger({ level: config.logLevel, token: config.discordToken });

async function plan(): Promise<ShardPlan> {
  try {
    return await planShards(config);
  } catch (error) {
    const message = isTokenRefused(error)
      ? TOKEN_REFUSED
      : `Could not ask Discord how many shards to run (SHARD_COUNT=auto): ${(error as Error).message}. ` +
        'Check the network, or set SHARD_COUNT to a number.';
    log.fatal({ err: error }, message);
    process.stderr.write(`${message}\n`);
    process.exit(1);
  }
}

const shards = await plan();
const [only, ...more] = shards.groups;
if (only !== undefined && more.length === 0) {
  // discord.js reads SHARD_COUNT and SHARDS itself: tell it what SHARD_COUNT=auto came to.
  process.env.SHARD_COUNT = String(shards.count);
  delete process.env.SHARDS;
  await runBotProcess({ config, log, shards: { count: shards.count, ids: only }, managed: false });
} else {
  await runManager({ config, log, plan: shards });
}
