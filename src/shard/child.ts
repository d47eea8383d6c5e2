// A shard process, started by the shard manager (src/shard/manager.ts) through discord.js's ShardingManager:
// it runs the bot for the shards the manager named in SHARDS (a JSON list of ids) of SHARD_COUNT, the
// variables discord.js's own Client reads in a child.
import { createLogger } from '../log.js';
import { runBotProcess } from './bot-process.js';
import { readConfigOrExit } from './lifecycle.js';
import { scopeFromEnvironment } from './scope-env.js';

const config = readConfigOrExit();
const shards = (() => {
  try {
    return scopeFromEnvironment(process.env);
  } catch (error) {
    // Run by hand rather than by the manager: say what is missing, without a stack trace.
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
})();
// Every line says which process wrote it: the processes of one bot share one log.
const log = createLogger({ level: config.logLevel, token: config.discordToken }).child({
  shards: shards.ids,
});
await runBotProcess({ config, log, shards, managed: true });
