// Cron expressions, matched by croner on a clock without DST: croner is given wall-clock times written as
// if they were UTC, and schedule.ts resolves each match to an instant under the engine's DST rule.
import { Cron } from 'croner';

/** A croner Cron holds ~80 KB of precomputed state, so keep only the most recently used expressions. */
const CRON_CACHE_LIMIT = 256;

const crons = new Map<string, Cron>();

/**
 * croner's matcher for `expression`, parsed once per expression; throws a RangeError naming the problem for
 * an expression a loop refuses.
 */
export function cronFor(expression: string): Cron {
  let cron = crons.get(expression);
  if (cron !== undefined) {
    crons.delete(expression); // re-inserted below, so Map order is least recently used first
  } else {
    if (typeof expression !== 'string') throw new TypeError('loop option "cron" must be a string');
    // croner also takes a 7th (year) field and nicknames such as @daily; we promise 5 or 6 fields only.
    const fields = expression.trim().split(/\s+/).length;
    if (fields !== 5 && fields !== 6) {
      throw new RangeError(
        `loop option "cron" must have 5 fields (minute hour day month weekday) or 6 (seconds first), ` +
          `got ${fields}: "${expression}"`,
      );
    }
    try {
      cron = new Cron(expression, { utcOffset: 0, paused: true });
    } catch (error) {
      throw new RangeError(
        `loop option "cron" is not a valid cron expression: "${expression}" (${(error as Error).message})`,
      );
    }
    // Without a year field an expression either runs again and again or never (February 30th), so asking
    // once, from now, settles it for good; a cached expression is never asked again.
    if (cron.nextRun() === null) {
      throw new RangeError(`loop option "cron" "${expression}" never runs: no date matches it`);
    }
    if (crons.size >= CRON_CACHE_LIMIT) crons.delete(crons.keys().next().value!);
  }
  crons.set(expression, cron);
  return cron;
}

/** The wall-clock instants (written as if UTC) a cron expression matches, from `fromWallMs` on, in order. */
export function* cronWalls(expression: string, fromWallMs: number): Generator<number> {
  const cron = cronFor(expression);
  // croner returns the next whole second strictly after its argument.
  let next = cron.nextRun(new Date(fromWallMs - 1));
  // Bounded: a match past a few days cannot be needed, the first one ends the search in all but a gap.
  for (let n = 0; next !== null && n < 100_000; n++) {
    yield next.getTime();
    next = cron.nextRun(next);
  }
}
