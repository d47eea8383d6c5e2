// The engine's one reading of time: the wall − monotonic offset that turns a slot into a monotonic instant.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clock } from '../../src/loop/clock.js';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('clock', () => {
  it('on the real clocks: an instant converted with the offset is never early', () => {
    for (let i = 0; i < 2_000; i++) {
      const offsetMs = clock.offsetMs();
      const monoMs = performance.now();
      const wallMs = Date.now();
      // At monotonic monoMs the wall clock had reached monoMs + offset: Date.now() (read after) shows it.
      expect(wallMs).toBeGreaterThanOrEqual(Math.floor(monoMs + offsetMs));
    }
  });

  it('measures the offset as Date.now() ticks, so its truncation costs no lateness', () => {
    // Simulated clocks 1,000,000.7 ms apart: each read takes 4 µs; Date.now() shows whole milliseconds.
    const trueOffsetMs = 1_000_000.7;
    let nowMs = 500;
    const read = () => {
      nowMs += 0.004;
      return nowMs;
    };
    vi.spyOn(clock, 'monoMs').mockImplementation(read);
    vi.spyOn(clock, 'wallMs').mockImplementation(() => Math.floor(read() + trueOffsetMs));
    const offsetMs = clock.offsetMs();
    expect(offsetMs).toBeLessThanOrEqual(trueOffsetMs); // never early
    expect(trueOffsetMs - offsetMs).toBeLessThan(0.05); // a truncated reading would be up to 1 ms low
  });

  it('follows vi.setSystemTime, which steps the wall clock alone', () => {
    vi.useFakeTimers({ now: Date.parse('2025-01-06T12:00:00Z') });
    const before = clock.offsetMs();
    expect(before).toBe(Date.now() - performance.now());
    vi.setSystemTime(Date.now() + 3_600_000);
    expect(clock.offsetMs()).toBe(before + 3_600_000);
    expect(clock.monoAt(Date.now() + 5_000)).toBe(performance.now() + 5_000);
  });

  it('does not take one read spoiled by a descheduled process for a clock step', () => {
    vi.useFakeTimers({ now: Date.parse('2025-01-06T12:00:00Z') });
    const before = clock.offsetMs();
    // The process lost the CPU for 5 ms between reading the wall clock and the monotonic one.
    const mono = clock.monoMs;
    vi.spyOn(clock, 'monoMs')
      .mockImplementationOnce(() => mono() + 5)
      .mockImplementation(mono);
    expect(clock.offsetMs()).toBe(before);
  });
});
