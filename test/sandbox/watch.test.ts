// The sandbox's watch on a handlers folder: which edits count, and a burst of them reported once.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type FolderWatch, isWatchedSource, watchSources } from '../../scripts/sandbox/watch.js';

describe('isWatchedSource', () => {
  it('takes modules, helpers in subfolders and JSON, and leaves out tests, types, dot files and packages', () => {
    for (const path of ['qotd.ts', 'ping.js', 'lib/format.mts', 'a.cjs', 'questions.json']) {
      expect(isWatchedSource(path), path).toBe(true);
    }
    for (const path of [
      'qotd.test.ts',
      'qotd.spec.js',
      'types.d.ts',
      '.qotd.ts.swp',
      '.#qotd.ts',
      'qotd.ts~',
      'README.md',
      'node_modules/left-pad/index.js',
      'lib/node_modules/x/index.ts',
    ]) {
      expect(isWatchedSource(path), path).toBe(false);
    }
  });
});

describe('watchSources', () => {
  let dir: string;
  let watching: FolderWatch | undefined;
  afterEach(() => {
    watching?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports each edited module once per burst, with its full path, and nothing it leaves out', async () => {
    dir = mkdtempSync(join(tmpdir(), 'metronome-watch-'));
    mkdirSync(join(dir, 'node_modules'));
    mkdirSync(join(dir, 'lib'));
    const reports: string[][] = [];
    const reported = new Promise<void>((resolve) => {
      watching = watchSources(dir, (files) => {
        reports.push(files);
        if (files.includes(join(dir, 'lib', 'format.ts'))) resolve();
      });
    });
    writeFileSync(join(dir, 'node_modules', 'x.js'), '');
    writeFileSync(join(dir, 'qotd.test.ts'), '');
    for (let i = 0; i < 3; i++) writeFileSync(join(dir, 'qotd.ts'), `// ${i}\n`);
    writeFileSync(join(dir, 'lib', 'format.ts'), '');
    await reported;
    const all = reports.flat();
    expect(all).not.toContain(join(dir, 'node_modules', 'x.js'));
    expect(all).not.toContain(join(dir, 'qotd.test.ts'));
    // Written three times before the folder went quiet: one report, one entry.
    expect(reports[0]!.filter((file) => file === join(dir, 'qotd.ts'))).toHaveLength(1);
  });
});
