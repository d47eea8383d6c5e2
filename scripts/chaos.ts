// `npm run chaos [-- --cycles N --seed S]`: the real bot against the emulator, SIGKILLed at random moments
// and restarted N times (default 200), checked after every cycle. Ends with one summary line; exits 1 if
// any figure but the kill count is not zero. Not part of `npm test` (a short run is: test/chaos).
import { parseArgs } from 'node:util';
import { PROBLEM_KINDS } from './chaos/checks.js';
import { runChaos, summaryLine } from './chaos/run.js';

const { values } = parseArgs({
  options: { cycles: { type: 'string', default: '200' }, seed: { type: 'string' } },
});
const cycles = Number(values.cycles);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isSafeInteger(cycles) || cycles < 1 || !Number.isSafeInteger(seed) || seed < 0) {
  console.error('usage: npm run chaos -- [--cycles N] [--seed S]  (N ≥ 1, S a non-negative integer)');
  process.exit(2);
}

console.log(
  `chaos: ${cycles} cycles, seed ${seed} (repeat with: npm run chaos -- --cycles ${cycles} --seed ${seed})`,
);
const started = Date.now();
try {
  const result = await runChaos({ cycles, seed, progress: (line) => console.log(line) });
  console.log(
    `${result.commands.sent} commands sent, ${result.commands.answered} answered; ${result.posts} posts; ` +
      `${result.fallbackKills} kills by the fallback timer; ${Math.round((Date.now() - started) / 1000)} s`,
  );
  if (result.problems.length > 0) console.log(`problems:\n  ${result.problems.join('\n  ')}`);
  console.log(summaryLine(result));
  process.exit(PROBLEM_KINDS.some((kind) => result.figures[kind] > 0) ? 1 : 0);
} catch (error) {
  console.error(`chaos: the run could not go on: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
}
