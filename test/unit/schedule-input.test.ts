import { describe, expect, it } from 'vitest';
import { scheduleFromOptions } from '../../src/discord/schedule-input.js';

const NOW = Date.UTC(2026, 11, 1, 13, 5);

describe('cron and the 10-second minimum', () => {
  it.each([
    ['* * * * * *', false],
    ['*/2 * * * * *', false],
    ['0,5 0 * * * *', false], // 5 s apart once an hour is still too often
    ['*/10 * * * * *', true],
    ['* * * * *', true],
    ['0 9 * * 1', true],
    ['0 0 29 2 *', true],
  ])('%s accepted: %s', (cron, accepted) => {
    const parsed = scheduleFromOptions({ cron, timezone: 'Europe/Paris' }, { nowMs: NOW });
    expect(parsed.ok).toBe(accepted);
    if (!parsed.ok) expect(parsed.error).toMatch(/runs more often than every 10 seconds/);
  });

  it('refuses a too-frequent cron with one sentence, and keeps a fine one', () => {
    expect(scheduleFromOptions({ cron: '*/2 * * * * *' }, { nowMs: NOW })).toEqual({
      ok: false,
      error: '`*/2 * * * * *` runs more often than every 10 seconds, the most often a task may run.',
    });
    expect(scheduleFromOptions({ cron: '0 9 * * 1', timezone: 'europe/paris' }, { nowMs: NOW })).toEqual({
      ok: true,
      value: { kind: 'cron', cron: '0 9 * * 1', timeZone: 'Europe/Paris' },
    });
  });

  it.each(['@daily', '0 9 * *', '0 0 30 2 *', '61 * * * *', '😀'])(
    'refuses the cron %j with a sentence',
    (cron) => {
      const parsed = scheduleFromOptions({ cron }, { nowMs: NOW });
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error).toMatch(/^That schedule is not valid \(.+\)\.$/);
    },
  );
});
