// `npm run backup -- [FILE]`: an online, checked copy of DATABASE_PATH (read from .env like `npm start`),
// safe while the bot runs. Default FILE: backups/metronome-<UTC timestamp>.db beside the database.
import { dirname, join } from 'node:path';
import { DEFAULT_DATABASE_PATH, loadDotEnv } from '../src/config.js';
import { backupDatabase } from '../src/db/backup.js';

loadDotEnv();

const source = process.env.DATABASE_PATH?.trim() || DEFAULT_DATABASE_PATH;
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const destination = process.argv[2] ?? join(dirname(source), 'backups', `metronome-${stamp}.db`);

try {
  const { destination: written, pages } = await backupDatabase(source, destination);
  console.log(`Backed up ${source} to ${written} (${pages} pages, integrity ok).`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
