// The chaos run's own task kind: each run posts one line naming its task, iteration and slot, then waits a
// little, so a SIGKILL often lands after the post and before the run is recorded (the worst moment).
import { setTimeout as sleep } from 'node:timers/promises';
import { defineHandler } from 'metronome';
import { z } from 'zod';
import { postText } from '../post-text.js';

export default defineHandler({
  kind: 'chaospost',
  description: 'Chaos run: post this slot, then wait a little',
  options: z.object({ pause: z.number().int().min(0).max(5_000) }),
  slashOptions: (b) =>
    b.addIntegerOption((o) =>
      o
        .setName('pause')
        .setDescription('Milliseconds to wait after posting')
        .setRequired(true)
        .setMinValue(0)
        .setMaxValue(5_000),
    ),
  async run(ctx) {
    await ctx.send(postText(ctx.task.name, ctx.iteration, ctx.scheduledAt.getTime()));
    await sleep(ctx.options.pause, undefined, { signal: ctx.signal });
  },
});
