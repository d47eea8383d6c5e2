// Meta entries by key prefix (the command-sync hashes, one key per scope). Kept beside store.ts, which holds
// the single-key getMeta/setMeta, so listing and forgetting scopes reads as one named query each.
import { eq, like } from 'drizzle-orm';
import type { Db } from './connection.js';
import { meta } from './schema.js';

/** Every meta key starting with `prefix`, sorted. */
export function metaKeysStartingWith(db: Db, prefix: string): string[] {
  // LIKE only narrows the scan (`_` and `%` in the prefix would widen it); startsWith is the exact test.
  return db
    .select({ key: meta.key })
    .from(meta)
    .where(like(meta.key, `${prefix}%`))
    .all()
    .map((row) => row.key)
    .filter((key) => key.startsWith(prefix))
    .sort();
}

export function deleteMeta(db: Db, key: string): void {
  db.delete(meta).where(eq(meta.key, key)).run();
}
