// Backups are taken while the bot runs: the copy must hold what the live database holds, WAL included.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { backupDatabase } from '../../src/db/backup.js';
import { insertTask, listTasks, openDatabase } from '../../src/db/index.js';
import { taskValues, useTempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const tempDb = useTempDir();

describe('backupDatabase', () => {
  it('copies a database that is open and writing, WAL included, and checks the copy', async () => {
    const path = tempDb();
    const live = openDatabase(path);
    try {
      insertTask(live.db, taskValues({ name: 'first' }));
      insertTask(live.db, taskValues({ name: 'second' }));
      // Still open: the rows may sit in the WAL, not yet in the main file.
      const copyPath = join(dirname(path), 'copies', 'backup.db');
      const result = await backupDatabase(path, copyPath);
      expect(result.destination).toBe(copyPath);
      // A single file, ready to copy elsewhere: no -wal or -shm beside it.
      expect(readdirSync(dirname(copyPath))).toEqual(['backup.db']);
      const copy = openDatabase(copyPath);
      try {
        expect(listTasks(copy.db, 'g1').map((t) => t.name)).toEqual(['first', 'second']);
      } finally {
        copy.close();
      }
    } finally {
      live.close();
    }
  });

  it('never overwrites an existing file, and names a missing source', async () => {
    const path = tempDb();
    openDatabase(path).close();
    await expect(backupDatabase(path, path)).rejects.toThrow(/already exists; pick a new file name/);
    await expect(backupDatabase(join(dirname(path), 'nope.db'), join(dirname(path), 'b.db'))).rejects.toThrow(
      /There is no database at .*nope\.db/,
    );
  });

  it('npm run backup writes a checked copy of DATABASE_PATH', () => {
    const path = tempDb();
    const live = openDatabase(path);
    insertTask(live.db, taskValues());
    const out = join(dirname(path), 'out.db');
    const run = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'scripts/backup.ts'), out], {
      cwd: dirname(path),
      env: { PATH: process.env.PATH, DATABASE_PATH: path },
      encoding: 'utf8',
    });
    live.close();
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^Backed up .*metronome\.db to .*out\.db \(\d+ pages, integrity ok\)\.\n$/);
    expect(run.status).toBe(0);
    expect(existsSync(out)).toBe(true);
  }, 15_000);
});
