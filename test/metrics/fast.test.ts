// The fast per-run metrics must scrape exactly as prom-client's own would for the same observations.
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastCounter, FastHistogram } from '../../src/metrics/fast.js';

const BUCKETS = [0.005, 0.01, 0.1, 1, 10];

async function scrape(build: (registry: Registry) => void): Promise<string> {
  const registry = new Registry();
  build(registry);
  return registry.metrics();
}

describe('fast metrics', () => {
  it('a histogram scrapes as prom-client’s, bucket edges, +Inf, sum and count included', async () => {
    const values = [0, 0.005, 0.0051, 0.01, 0.5, 1, 9.99, 10, 10.01, 1e6];
    const kinds = ['reminder', 'counter', 'reminder', 'x"y\\z'];
    const expected = await scrape((registry) => {
      const h = new Histogram({
        name: 'h',
        help: 'A help.',
        labelNames: ['kind'],
        buckets: BUCKETS,
        registers: [registry],
      });
      for (const [i, v] of values.entries()) h.labels(kinds[i % kinds.length]!).observe(v);
    });
    const actual = await scrape((registry) => {
      const h = new FastHistogram({
        name: 'h',
        help: 'A help.',
        labelNames: ['kind'],
        buckets: BUCKETS,
        registers: [registry],
      });
      for (const [i, v] of values.entries()) h.labels(kinds[i % kinds.length]!).observe(v);
    });
    expect(actual).toBe(expected);
    expect(actual).toContain('h_bucket{le="+Inf",kind="reminder"} 5');
  });

  it('an unlabelled histogram and a counter scrape as prom-client’s', async () => {
    const expected = await scrape((registry) => {
      const h = new Histogram({ name: 'late', help: 'Late.', buckets: BUCKETS, registers: [registry] });
      const c = new Counter({
        name: 'runs_total',
        help: 'Runs.',
        labelNames: ['kind', 'outcome'],
        registers: [registry],
      });
      for (const v of [0.002, 0.2, 20]) h.observe(v);
      c.labels('reminder', 'ok').inc();
      c.labels('reminder', 'ok').inc(2);
      c.labels('counter', 'gave_up').inc();
    });
    const actual = await scrape((registry) => {
      const h = new FastHistogram({
        name: 'late',
        help: 'Late.',
        labelNames: [],
        buckets: BUCKETS,
        registers: [registry],
      });
      const c = new FastCounter({
        name: 'runs_total',
        help: 'Runs.',
        labelNames: ['kind', 'outcome'],
        registers: [registry],
      });
      for (const v of [0.002, 0.2, 20]) h.labels().observe(v);
      c.labels('reminder', 'ok').inc();
      c.labels('reminder', 'ok').inc(2);
      c.labels('counter', 'gave_up').inc();
    });
    expect(actual).toBe(expected);
  });

  it('keeps one child per label set, and refuses the wrong number of label values', () => {
    const registry = new Registry();
    const c = new FastCounter({ name: 'c_total', help: 'C.', labelNames: ['a', 'b'], registers: [registry] });
    expect(c.labels('x', 'y')).toBe(c.labels('x', 'y'));
    expect(c.labels('x', 'y')).not.toBe(c.labels('x', 'z'));
    // Joined values must not collide: ("a b", "c") is not ("a", "b c").
    expect(c.labels('a b', 'c')).not.toBe(c.labels('a', 'b c'));
    expect(() => c.labels('x')).toThrowError('c_total takes 2 label values, got 1');
    expect(
      () => new FastCounter({ name: 'c_total', help: 'again', labelNames: [], registers: [registry] }),
    ).toThrowError(/already been registered/);
  });
});
