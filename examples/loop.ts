// The loop engine on its own, as README.md shows it: `npx tsx examples/loop.ts` prints three ticks and exits.
import { loop } from 'metronome/loop';

// The type argument lists the start() arguments the callback receives before its context.
const ticker = loop<[label: string]>({ seconds: 1, count: 3 }, async (label, { iteration, scheduledAt }) => {
  console.log(`${label} #${iteration} due ${scheduledAt.toISOString()}`);
});
ticker.beforeLoop(() => console.log('starting'));
ticker.afterLoop(() => console.log(`done after ${ticker.currentLoop} iterations`));

await ticker.start('tick'); // resolves once the loop has ended (count reached, stop, cancel or failure)
