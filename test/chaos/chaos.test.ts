// A short `npm run chaos`: the real bot (src/main.ts in a child process) against the emulator, SIGKILLed
// three times at seeded event points (a post created, a request received, a reply created) and restarted,
// with every check of the full run after each kill. Each wait is for an event; the timeout only bounds a
// start-up that never finishes.
import { expect, it } from 'vitest';
import { runChaos, summaryLine } from '../../scripts/chaos/run.js';

it('three kills at seeded moments lose nothing, post nothing twice and exceed no count', async () => {
  const progress: string[] = [];
  const result = await runChaos({
    // Short cycles: the kill comes within a few posts, requests or replies of the bot's start.
    longestCycle: { posts: 4, requests: 20, replies: 3 },
    cycles: 3,
    seed: 20_261_201,
    settle: false,
    progress: (line) => progress.push(line),
  });
  console.log([...progress, summaryLine(result)].join('\n'));
  expect(result.problems).toEqual([]);
  expect(result.fallbackKills).toBe(0);
  expect(result.commands.answered).toBeGreaterThan(0);
  expect(summaryLine(result)).toMatch(
    /^chaos: 3 cycles, \d kills mid-run, 0 integrity failures, 0 tasks lost, 0 deleted back, 0 commands lost, 0 double posts, 0 counts exceeded$/,
  );
}, 120_000);
