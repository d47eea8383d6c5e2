// The loop engine on its own, as README.md shows it: `npx tsx examples/loop.ts` prints three ticks and exits.
import { loop } from 'metronome/loop';

const ticker = loop(
  { seconds: 1, count: 3, name: 'ticker' },
  async (label: string, { iteration, scheduledAt }) => {
    console.log(`${label} #${iteration} due ${scheduledAt.toISOString()}`);
  },
);
ticker.beforeLoop(() => console.log('starting'));
ticker.afterLoop(() => console.log(`done after ${ticker.currentLoop} iterations`));

await ticker.start('tick'); // resolves once the loop has ended (count reached, stop, cancel or failure)
