import { describe, expect, it } from 'vitest';
import { parseTimeZone, suggestTimeZones } from '../../src/discord/time-zones.js';

const value = <T>(parsed: { ok: true; value: T } | { ok: false; error: string }): T => {
  if (!parsed.ok) throw new Error(`expected a value, got: ${parsed.error}`);
  return parsed.value;
};
const error = (parsed: { ok: boolean; error?: string }): string => {
  if (parsed.ok) throw new Error('expected an error');
  return parsed.error ?? '';
};

describe('time zones', () => {
  it('accepts IANA names case-insensitively, canonically spelled', () => {
    expect(value(parseTimeZone('europe/paris'))).toBe('Europe/Paris');
    expect(value(parseTimeZone('UTC'))).toBe('UTC');
    expect(value(parseTimeZone('Australia/Lord_Howe'))).toBe('Australia/Lord_Howe');
  });

  it('refuses unknown zones with an example', () => {
    expect(error(parseTimeZone('Mars/Olympus'))).toMatch(/not a time zone.*Europe\/Paris/);
  });

  it('suggests at most 25, prefix matches first', () => {
    expect(suggestTimeZones('')).toHaveLength(25);
    expect(suggestTimeZones('paris')[0]).toBe('Europe/Paris');
    expect(suggestTimeZones('par')).toContain('Europe/Paris');
    expect(suggestTimeZones('europe')).toHaveLength(25);
    expect(suggestTimeZones('europe').every((zone) => zone.startsWith('Europe/'))).toBe(true);
    expect(suggestTimeZones('new york')).toContain('America/New_York');
    expect(suggestTimeZones('zzzz')).toEqual([]);
  });
});
