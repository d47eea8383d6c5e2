import { describe, expect, it } from 'vitest';
import { durationSeconds, formatEvery, parseTimeout } from '../../src/discord/input.js';
import { error, value } from '../support/parsed.js';

describe('durations', () => {
  it.each([
    ['90s', 90],
    ['1h30m', 5400],
    [' 1H 5M ', 3900],
    ['1d2h3m4s', 93_784],
  ])('%s is %i seconds', (input, seconds) => {
    expect(durationSeconds(input)).toBe(seconds);
  });

  it.each(['', 'soon', '10', '-5m', '1.5h', '30m1h', '1h1h', 'x'.repeat(5000)])('%j is none', (input) => {
    expect(durationSeconds(input)).toBeUndefined();
  });

  it('formats back to the shortest spelling', () => {
    expect(formatEvery(5400)).toBe('1h30m');
    expect(formatEvery(90)).toBe('1m30s');
    expect(formatEvery(172_800)).toBe('2d');
  });
});

describe('parseTimeout', () => {
  it.each([
    ['1s', 1],
    ['30s', 30],
    ['5m', 300],
    [' 1M 30S ', 90],
    ['15m', 900],
    ['14m60s', 900],
  ])('%s is %i seconds', (input, seconds) => {
    expect(value(parseTimeout(input))).toBe(seconds);
  });

  it('accepts less than the 10 seconds every needs', () => {
    expect(value(parseTimeout('5s'))).toBe(5);
  });

  it('refuses zero with the minimum named', () => {
    expect(error(parseTimeout('0s'))).toBe('A timeout must be at least 1 second.');
    expect(error(parseTimeout('0m'))).toBe('A timeout must be at least 1 second.');
  });

  it.each(['15m1s', '16m', '1h', '1d'])('refuses %s, over 15 minutes, with the maximum named', (input) => {
    expect(error(parseTimeout(input))).toMatch(/at most 15 minutes/);
  });

  it.each(['', 'soon', '30', '-5s', '1.5m', '30s1m', 'x'.repeat(5000)])('refuses %j', (input) => {
    const sentence = error(parseTimeout(input));
    expect(sentence).toMatch(/not a duration/);
    expect(sentence.length).toBeLessThan(120);
  });
});
