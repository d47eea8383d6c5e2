// Registers the slash commands only when their definitions changed since the last sync, so a restart does
// not touch Discord's command list (and its rate limits). The hash of what was last registered lives in the
// database's meta table, one key per application and scope. A scope registered before but not any more
// (DEV_GUILD_ID changed or unset) is emptied, so its guild does not keep a stale copy of /task beside the new.
import { createHash } from 'node:crypto';
import { type Client, DiscordAPIError } from 'discord.js';
import type { RESTPostAPIApplicationCommandsJSONBody } from 'discord-api-types/v10';
import { type Db, deleteMeta, getMeta, metaKeysStartingWith, setMeta } from '../db/index.js';
import type { Logger } from '../log.js';

export interface SyncCommandsOptions {
  client: Client<true>;
  db: Db;
  commands: readonly RESTPostAPIApplicationCommandsJSONBody[];
  /** Register to this guild only (DEV_GUILD_ID: instant updates); otherwise globally. */
  guildId?: string | undefined;
  log: Logger;
}

/** `by shard 0`: this process does not hold shard 0, whose process syncs for every shard. */
export type SyncResult = 'unchanged' | 'updated' | 'by shard 0';

function commandsHash(commands: readonly RESTPostAPIApplicationCommandsJSONBody[]): string {
  return createHash('sha256').update(JSON.stringify(commands)).digest('hex');
}

function syncKey(applicationId: string, guildId: string | undefined): string {
  return `${syncKeyPrefix(applicationId)}${guildId ? `${GUILD_SCOPE}${guildId}` : 'global'}`;
}

const syncKeyPrefix = (applicationId: string) => `commands:${applicationId}:`;
const GUILD_SCOPE = 'guild:';

export async function syncCommands(options: SyncCommandsOptions): Promise<SyncResult> {
  const { client, db, commands, guildId, log } = options;
  const key = syncKey(client.application.id, guildId);
  const hash = commandsHash(commands);
  let result: SyncResult = 'unchanged';
  if (getMeta(db, key) === hash) {
    log.debug({ scope: guildId ?? 'global' }, 'slash commands unchanged; not syncing');
  } else {
    // PUT replaces the whole list for the scope: stale commands disappear in the same call.
    if (guildId) await client.application.commands.set([...commands], guildId);
    else await client.application.commands.set([...commands]);
    setMeta(db, key, hash);
    log.info({ scope: guildId ?? 'global', commands: commands.length }, 'slash commands synced');
    result = 'updated';
  }
  await clearOldGuildScopes(options, key);
  return result;
}

/**
 * Empties every guild scope registered by an earlier start but not this one. Global commands are left alone:
 * a developer trying DEV_GUILD_ID against the production application must not unregister /task everywhere.
 * Never fatal: a guild the bot has left (403/404) is forgotten; any other failure is retried next start.
 */
async function clearOldGuildScopes(options: SyncCommandsOptions, currentKey: string): Promise<void> {
  const { client, db, log } = options;
  const guildPrefix = `${syncKeyPrefix(client.application.id)}${GUILD_SCOPE}`;
  for (const key of metaKeysStartingWith(db, guildPrefix)) {
    if (key === currentKey) continue;
    const oldGuildId = key.slice(guildPrefix.length);
    try {
      await client.application.commands.set([], oldGuildId);
      log.info({ scope: oldGuildId }, 'slash commands removed from a guild no longer registered to');
    } catch (error) {
      const gone = error instanceof DiscordAPIError && (error.status === 403 || error.status === 404);
      log.warn(
        { scope: oldGuildId, err: error },
        gone
          ? 'cannot reach the guild the commands were registered to before; forgetting it'
          : 'could not remove the slash commands from the guild they were registered to before; will retry next start',
      );
      if (!gone) continue;
    }
    deleteMeta(db, key);
  }
}
