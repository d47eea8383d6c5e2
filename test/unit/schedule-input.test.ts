import { describe, expect, it } from 'vitest';
import { cronTooFrequent, scheduleFromOptions } from '../../src/discord/schedule-input.js';

describe('cron and the 10-second minimum', () => {
  it.each([
    ['* * * * * *', true],
    ['*/2 * * * * *', true],
    ['0,5 0 * * * *', true], // 5 s apart once an hour is still too often
    ['*/10 * * * * *', false],
    ['* * * * *', false],
    ['0 9 * * 1', false],
    ['0 0 29 2 *', false],
  ])('%s too frequent: %s', (cron, expected) => {
    expect(cronTooFrequent(cron, 'Europe/Paris')).toBe(expected);
  });

  it('refuses a too-frequent cron with one sentence, and keeps a fine one', () => {
    expect(scheduleFromOptions({ cron: '*/2 * * * * *' })).toEqual({
      ok: false,
      error: '`*/2 * * * * *` runs more often than every 10 seconds, the most often a task may run.',
    });
    expect(scheduleFromOptions({ cron: '0 9 * * 1', timezone: 'europe/paris' })).toEqual({
      ok: true,
      value: { kind: 'cron', cron: '0 9 * * 1', timeZone: 'Europe/Paris' },
    });
  });
});
