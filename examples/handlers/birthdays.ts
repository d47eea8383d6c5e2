// A custom handler module: `/task create birthdays people:"alice 03-14, bob 12-01" at:09:00 timezone:auckland`
// wishes each person a happy birthday on their day. The day is the one in the task's time zone
// (ctx.task.timeZone, from `at`/`cron`), not UTC's: at 09:00 in Auckland on 14 March it is still 13 March in
// London. Each day is announced once, whatever the schedule (`at: 09:00, 18:00` or `every: 1h` too), because
// the last day announced is kept in ctx.store. A 29 February birthday is wished on 28 February in other years.
import { defineHandler } from 'metronome';
import { z } from 'zod';

interface Person {
  name: string;
  /** 1-12 and 1-31, as typed: `03-14` is 14 March. */
  month: number;
  day: number;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const ENTRY = /^(.+?)\s+(\d{2})-(\d{2})$/;

const person = z.object({
  name: z.string().min(1).max(100),
  month: z.number().int().min(1).max(12),
  day: z.number().int().min(1).max(31),
});

const options = z.object({
  // One slash string option, "name MM-DD" separated by commas. Stored parsed and parsed again at every run,
  // so the list itself is accepted too.
  people: z
    .union([z.string().max(4_000), z.array(person)])
    .transform((value, ctx) => {
      if (typeof value !== 'string') return value;
      const people: Person[] = [];
      for (const entry of value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)) {
        const match = ENTRY.exec(entry);
        const month = Number(match?.[2]);
        const day = Number(match?.[3]);
        if (!match || month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]!) {
          ctx.addIssue({
            code: 'custom',
            message: `"${entry}" is not a name and a date like "alice 03-14" (month-day)`,
          });
          return z.NEVER;
        }
        people.push({ name: match[1]!, month, day });
      }
      return people;
    })
    .pipe(z.array(person).min(1, 'give at least one person, like "alice 03-14, bob 12-01"').max(200)),
  message: z
    .string()
    .max(1_000)
    .refine((text) => text.includes('{name}'), { message: 'the message needs {name}, where the names go' })
    .optional(),
});

export default defineHandler({
  kind: 'birthdays',
  description: 'Wish people a happy birthday on their day, in the task time zone',
  options,
  slashOptions: (b) =>
    b
      .addStringOption((o) =>
        o
          .setName('people')
          .setDescription('Names and dates (month-day), e.g. "alice 03-14, bob 12-01"')
          .setRequired(true)
          .setMaxLength(4_000),
      )
      .addStringOption((o) =>
        o.setName('message').setDescription('Default: "Happy birthday, {name}! 🎂"').setMaxLength(1_000),
      ),
  async run(ctx) {
    const today = localDate(ctx.scheduledAt, ctx.task.timeZone ?? 'UTC');
    if (ctx.store.get<string>('announced') === today.text) return;
    const names = ctx.options.people.filter((p) => isBirthday(p, today)).map((p) => p.name);
    if (names.length > 0) {
      const template = ctx.options.message ?? 'Happy birthday, {name}! 🎂';
      await ctx.send(template.replaceAll('{name}', listed(names)));
    }
    ctx.store.set('announced', today.text);
  },
  status(task, store) {
    const announced = store.get<string>('announced');
    const zone = task.timeZone ?? 'UTC';
    return `${task.options.people.length} people, days in ${zone}; last day looked at: ${announced ?? 'none yet'}.`;
  },
});

interface LocalDate {
  year: number;
  month: number;
  day: number;
  /** YYYY-MM-DD */
  text: string;
}

/** The calendar date at `instant` in `timeZone`. */
function localDate(instant: Date, timeZone: string): LocalDate {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
      .formatToParts(instant)
      .map((part) => [part.type, part.value]),
  );
  const [year, month, day] = [Number(parts.year), Number(parts.month), Number(parts.day)];
  return { year, month, day, text: `${parts.year}-${parts.month}-${parts.day}` };
}

function isBirthday(person: Person, today: LocalDate): boolean {
  if (person.month === today.month && person.day === today.day) return true;
  // 29 February, in a year without one: the 28th.
  const leap = new Date(Date.UTC(today.year, 1, 29)).getUTCMonth() === 1;
  return person.month === 2 && person.day === 29 && !leap && today.month === 2 && today.day === 28;
}

/** "alice", "alice and bob", "alice, bob and carol". */
function listed(names: readonly string[]): string {
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}
