// Registers the slash commands only when their definitions changed since the last sync, so a restart does
// not touch Discord's command list (and its rate limits). The hash of what was last registered lives in the
// database's meta table, one key per application and scope.
import { createHash } from 'node:crypto';
import type { Client } from 'discord.js';
import type { RESTPostAPIApplicationCommandsJSONBody } from 'discord-api-types/v10';
import { type Db, getMeta, setMeta } from '../db/index.js';
import type { Logger } from '../log.js';

export interface SyncCommandsOptions {
  client: Client<true>;
  db: Db;
  commands: readonly RESTPostAPIApplicationCommandsJSONBody[];
  /** Register to this guild only (DEV_GUILD_ID: instant updates); otherwise globally. */
  guildId?: string | undefined;
  log: Logger;
}

export type SyncResult = 'unchanged' | 'updated';

export function commandsHash(commands: readonly RESTPostAPIApplicationCommandsJSONBody[]): string {
  return createHash('sha256').update(JSON.stringify(commands)).digest('hex');
}

export function syncKey(applicationId: string, guildId: string | undefined): string {
  return `commands:${applicationId}:${guildId ? `guild:${guildId}` : 'global'}`;
}

export async function syncCommands(options: SyncCommandsOptions): Promise<SyncResult> {
  const { client, db, commands, guildId, log } = options;
  const key = syncKey(client.application.id, guildId);
  const hash = commandsHash(commands);
  if (getMeta(db, key) === hash) {
    log.debug({ scope: guildId ?? 'global' }, 'slash commands unchanged; not syncing');
    return 'unchanged';
  }
  // PUT replaces the whole list for the scope: stale commands disappear in the same call.
  if (guildId) await client.application.commands.set([...commands], guildId);
  else await client.application.commands.set([...commands]);
  setMeta(db, key, hash);
  log.info({ scope: guildId ?? 'global', commands: commands.length }, 'slash commands synced');
  return 'updated';
}
