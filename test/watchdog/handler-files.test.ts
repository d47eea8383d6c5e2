// Telling from the stuck thread's stack which runs in flight are to blame.
import { describe, expect, it } from 'vitest';
import { runsOnStack } from '../../src/watchdog/handler-files.js';

const files = new Map([
  ['spin', '/srv/bot/handlers/spin.ts'],
  ['reminder', '/srv/bot/src/handlers/builtin/reminder.ts'],
]);
const spin = { kind: 'spin', name: 'a' };
const reminder = { kind: 'reminder', name: 'b' };
const other = { kind: 'other', name: 'c' };

describe('runsOnStack', () => {
  it('picks the runs whose handler file is on the stack, as a path (tsx) or a file: URL (node)', () => {
    for (const frame of [
      'Object.run (/srv/bot/handlers/spin.ts:11:5)',
      'Object.run (file:///srv/bot/handlers/spin.ts:11:5)',
      '/srv/bot/handlers/spin.ts:3:1',
    ]) {
      expect(runsOnStack([reminder, spin, other], ['heavy (/srv/lib.js:1:1)', frame], files)).toEqual({
        runs: [spin],
        certain: true,
      });
    }
  });

  it('does not take a file for another whose path ends with it', () => {
    const stack = ['Object.run (/elsewhere/srv/bot/handlers/spin.ts:11:5)'];
    expect(runsOnStack([spin, reminder], stack, files)).toEqual({ runs: [spin, reminder], certain: false });
  });

  it('blames every run in flight when the stack is unknown or shows no handler', () => {
    expect(runsOnStack([spin, reminder], undefined, files)).toEqual({
      runs: [spin, reminder],
      certain: false,
    });
    expect(runsOnStack([spin, other], ['loop (/srv/lib.js:4:2)'], files)).toEqual({
      runs: [spin, other],
      certain: false,
    });
  });
});
