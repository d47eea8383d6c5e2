import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { NewTask } from '../../src/db/index.js';

/** A fresh temp folder per test, removed afterwards. Returns a path for a database file inside it. */
export function useTempDir(): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'metronome-db-'));
    dirs.push(dir);
    return join(dir, 'nested', 'metronome.db');
  };
}

export function taskValues(overrides: Partial<NewTask> = {}): NewTask {
  return {
    guildId: 'g1',
    name: 'daily',
    kind: 'reminder',
    options: { text: 'hi' },
    schedule: { kind: 'interval', seconds: 60 },
    channelId: 'c1',
    createdBy: 'u1',
    createdAt: 1_000,
    updatedAt: 1_000,
    ...overrides,
  };
}
