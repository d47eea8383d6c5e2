// A server's own settings (today: its default time zone). A guild without a row has the defaults.
import { eq } from 'drizzle-orm';
import type { Db } from './connection.js';
import { type GuildSettings, guildSettings } from './schema.js';

/** The zone a server gets until an admin sets one with `/task settings`. */
export const DEFAULT_TIME_ZONE = 'UTC';

/** The server's stored settings, or undefined when nothing was ever set there. */
export function getGuildSettings(db: Db, guildId: string): GuildSettings | undefined {
  return db.select().from(guildSettings).where(eq(guildSettings.guildId, guildId)).get();
}

/**
 * The IANA zone tasks created in this server without `timezone` use: the one set with `/task settings`, else
 * UTC. Synchronous like every store function: callers outside the runtime wrap it in retryWhileBusy.
 */
export function guildTimeZone(db: Db, guildId: string): string {
  return getGuildSettings(db, guildId)?.timeZone ?? DEFAULT_TIME_ZONE;
}

/** Sets the server's default zone (an IANA name the caller has already checked), noting who and when. */
export function setGuildTimeZone(
  db: Db,
  guildId: string,
  timeZone: string,
  change: { by: string; now: number },
): GuildSettings {
  const values = { timeZone, updatedAt: change.now, updatedBy: change.by };
  return db
    .insert(guildSettings)
    .values({ guildId, ...values })
    .onConflictDoUpdate({ target: guildSettings.guildId, set: values })
    .returning()
    .get();
}
