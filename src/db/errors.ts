// What went wrong with the database, in words an admin can act on. SQLite reports every failure as a
// SqliteError whose `code` is the (extended) result code, e.g. SQLITE_IOERR_WRITE; each family below is a
// fault of the bot's machine, not of what the admin typed, so each sentence says who can fix it.
import Sqlite from 'better-sqlite3';

export type DatabaseFault = 'busy' | 'full' | 'readonly' | 'io' | 'corrupt' | 'cantopen' | 'nomem';

/** One sentence per fault, shown as is to the member whose command hit it. */
export const DATABASE_FAULT_SENTENCES: Readonly<Record<DatabaseFault, string>> = Object.freeze({
  busy: 'The database is busy; nothing was changed. Try again in a moment.',
  full: "The bot's disk is full; nothing was changed. Tell whoever runs the bot.",
  readonly: "The bot's database is read-only right now; nothing was changed. Tell whoever runs the bot.",
  io: 'The bot could not read or write its database (a disk error); nothing was changed. Tell whoever runs the bot.',
  corrupt:
    "The bot's database is damaged; nothing was changed. Tell whoever runs the bot: it needs restoring from a backup.",
  cantopen: 'The bot cannot open its database file; nothing was changed. Tell whoever runs the bot.',
  nomem: 'The bot ran out of memory; nothing was changed. Tell whoever runs the bot.',
});

/** The same faults as the reason a task's run failed, for `/task info`'s last error and the run history. */
export const DATABASE_FAULT_REASONS: Readonly<Record<DatabaseFault, string>> = Object.freeze({
  busy: 'the database was busy (locked by another connection)',
  full: "the bot's disk is full",
  readonly: "the bot's database is read-only",
  io: 'the bot could not read or write its database (a disk error)',
  corrupt: "the bot's database is damaged and needs restoring from a backup",
  cantopen: 'the bot cannot open its database file',
  nomem: 'the bot ran out of memory',
});

// Primary result codes (extended codes such as SQLITE_BUSY_SNAPSHOT start with them) → fault.
const FAULT_OF_CODE: ReadonlyMap<string, DatabaseFault> = new Map([
  ['SQLITE_BUSY', 'busy'],
  ['SQLITE_LOCKED', 'busy'],
  ['SQLITE_FULL', 'full'],
  ['SQLITE_READONLY', 'readonly'],
  ['SQLITE_IOERR', 'io'],
  ['SQLITE_CORRUPT', 'corrupt'],
  ['SQLITE_NOTADB', 'corrupt'],
  ['SQLITE_CANTOPEN', 'cantopen'],
  ['SQLITE_NOMEM', 'nomem'],
]);

/** The SQLite result code of `error` or of an error it wraps (`cause`), e.g. `SQLITE_BUSY`. */
export function sqliteCodeOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current instanceof Sqlite.SqliteError) return current.code;
    current = current.cause;
  }
  return undefined;
}

/** Which fault a SQLite error (or an error caused by one) is; undefined for anything else, bugs included. */
export function databaseFaultOf(error: unknown): DatabaseFault | undefined {
  const code = sqliteCodeOf(error);
  if (code === undefined) return undefined;
  const primary = /^SQLITE_[A-Z]+/.exec(code)?.[0];
  return primary === undefined ? undefined : FAULT_OF_CODE.get(primary);
}

/** The sentence for a member when `error` is a database fault, else undefined. */
export function databaseFaultSentence(error: unknown): string | undefined {
  const fault = databaseFaultOf(error);
  return fault === undefined ? undefined : DATABASE_FAULT_SENTENCES[fault];
}

/** SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock; the same statement may work later. */
export function isDatabaseBusy(error: unknown): boolean {
  return databaseFaultOf(error) === 'busy';
}
