// The question-of-the-day example, tested as a handler author tests theirs: through metronome/testing.
import { handlerTestbed, type Testbed } from 'metronome/testing';
import { afterEach, expect, it } from 'vitest';
import qotd from '../../examples/handlers/question-of-the-day.js';

let bed: Testbed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

it('posts every day, each question once before any repeats', async () => {
  bed = await handlerTestbed({ handlers: [qotd] });
  const task = await bed.create('qotd', {
    questions: 'Tea or coffee? | Best book this year? | Tabs or spaces?',
  });
  await bed.advance('2d');
  const posts = bed.posts('#general').map((m) => m.content);
  expect(posts).toHaveLength(3);
  expect(posts.map((text) => text.split('\n')[0])).toEqual([
    '**Question of the day #1**',
    '**Question of the day #2**',
    '**Question of the day #3**',
  ]);
  expect(posts.map((text) => text.split('\n')[1]).sort()).toEqual([
    'Best book this year?',
    'Tabs or spaces?',
    'Tea or coffee?',
  ]);
  expect(await bed.info(task)).toContain('3 runs done');
});
