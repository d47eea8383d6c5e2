// A custom handler module: drop this file into HANDLERS_DIR and restart the bot to get
// `/task create qotd`. It posts one question per run from the admin's list, going through the whole list
// in a random order before any question repeats. Its only state (the questions still to ask) lives in
// `ctx.store`, which Metronome keeps per task and deletes with the task.
import { defineHandler } from 'metronome';
import { z } from 'zod';

const options = z.object({
  // One slash string option, questions separated by "|" (slash options cannot hold line breaks). Metronome
  // stores the parsed options and parses them again at every run, so the list itself is accepted too.
  questions: z
    .union([
      z
        .string()
        .max(4_000)
        .transform((text) =>
          text
            .split('|')
            .map((question) => question.trim())
            .filter((question) => question.length > 0),
        ),
      z.array(z.string()),
    ])
    .pipe(
      z
        .array(z.string().max(1_900, 'each question can be at most 1,900 characters'))
        .min(2, 'give at least 2 questions, separated by "|"'),
    ),
});

interface Deck {
  /** The question list the deck was dealt from: a changed list starts a new deck. */
  questions: string[];
  /** Indexes of questions not asked yet in this round, in the order they will be asked. */
  remaining: number[];
  asked: number;
}

function shuffled(count: number): number[] {
  const order = [...Array(count).keys()];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

export default defineHandler({
  kind: 'qotd',
  description: 'Post a question of the day from your list, each once before any repeats',
  options,
  slashOptions: (b) =>
    b.addStringOption((o) =>
      o
        .setName('questions')
        .setDescription('Questions separated by "|", e.g. "Best book this year? | Tabs or spaces?"')
        .setRequired(true)
        .setMaxLength(4_000),
    ),
  async run(ctx) {
    const { questions } = ctx.options;
    let deck = ctx.store.get<Deck>('deck');
    if (!deck || JSON.stringify(deck.questions) !== JSON.stringify(questions)) {
      deck = { questions, remaining: [], asked: 0 };
    }
    if (deck.remaining.length === 0) deck.remaining = shuffled(questions.length);
    const [next, ...rest] = deck.remaining;
    // The nonce in ctx.send makes a retried run post once; the deck is saved only after the post succeeded.
    await ctx.send(`**Question of the day #${deck.asked + 1}**\n${questions[next!]}`);
    ctx.store.set('deck', { ...deck, remaining: rest, asked: deck.asked + 1 });
    ctx.log.debug({ left: rest.length }, 'question asked');
  },
  status(_task, store) {
    const deck = store.get<Deck>('deck');
    return deck
      ? `${deck.asked} asked so far; ${deck.remaining.length} left before the list starts over.`
      : undefined;
  },
});
