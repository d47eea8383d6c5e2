// The birthday example, through metronome/testing: the day is the task's time zone's, not UTC's.
import { handlerTestbed, type Testbed } from 'metronome/testing';
import { afterEach, expect, it } from 'vitest';
import birthdays from '../../examples/handlers/birthdays.js';

let bed: Testbed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

/** Each post with the instant it was made. */
const posts = () => bed!.posts().map((m) => `${new Date(m.timestamp).toISOString()} ${m.content}`);

it("wishes on the day in the task's time zone, while UTC is still on the day before", async () => {
  // 08:00 on 14 March in Auckland (UTC+13) is 19:00 on 13 March in UTC.
  bed = await handlerTestbed({ handlers: [birthdays], now: '2026-03-13T19:00:00Z' });
  const task = await bed.create(
    'birthdays',
    { people: 'alice 03-14, bob 03-13, carol 03-14' },
    { at: '09:00', timezone: 'Pacific/Auckland' },
  );
  await bed.advance('2d');
  expect(posts()).toEqual(['2026-03-13T20:00:00.000Z Happy birthday, alice and carol! 🎂']);
  expect(await bed.info(task)).toContain(
    'Status: 3 people, days in Pacific/Auckland; last day looked at: 2026-03-15.',
  );
});

it('wishes once a day whatever the schedule, with its own message', async () => {
  bed = await handlerTestbed({ handlers: [birthdays], now: '2026-12-01T00:30:00Z' });
  await bed.create(
    'birthdays',
    { people: 'bob 12-01', message: 'Hip hip, {name}!' },
    { at: '09:00, 18:00', timezone: 'UTC' },
  );
  await bed.advance('1d');
  await bed.create('birthdays', { people: 'bob 12-02' }, { every: '1h' });
  await bed.advance('1d');
  expect(posts()).toEqual([
    '2026-12-01T09:00:00.000Z Hip hip, bob!',
    '2026-12-02T00:30:00.000Z Happy birthday, bob! 🎂',
  ]);
});

it('wishes a 29 February birthday on the 28th in other years', async () => {
  bed = await handlerTestbed({ handlers: [birthdays], now: '2027-02-27T12:00:00Z' });
  await bed.create('birthdays', { people: 'leapling 02-29' }, { at: '12:00', timezone: 'Europe/Paris' });
  await bed.advance('3d');
  expect(posts()).toEqual(['2027-02-28T11:00:00.000Z Happy birthday, leapling! 🎂']);
});

it('refuses a list it cannot read, saying which entry', async () => {
  bed = await handlerTestbed({ handlers: [birthdays] });
  await expect(bed.create('birthdays', { people: 'alice 03-14, bob 13-01' })).rejects.toThrow(
    '"bob 13-01" is not a name and a date like "alice 03-14" (month-day)',
  );
  await expect(bed.create('birthdays', { people: 'alice 02-30' })).rejects.toThrow(
    '"alice 02-30" is not a name and a date',
  );
  await expect(bed.create('birthdays', { people: 'alice' })).rejects.toThrow(
    '"alice" is not a name and a date',
  );
  await expect(bed.create('birthdays', { people: ' , ' })).rejects.toThrow('give at least one person');
  await expect(bed.create('birthdays', { people: 'alice 03-14', message: 'Cheers!' })).rejects.toThrow(
    'the message needs {name}, where the names go',
  );
  expect(bed.posts()).toEqual([]);
});
