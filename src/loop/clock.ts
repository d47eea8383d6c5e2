// The one place the loop engine reads time. Wall-clock time (Date.now()) says when a slot is; monotonic time
// (performance.now()) measures how long to wait, since it never jumps when NTP steps the clock or a VM
// resumes. Both are read through the globals at call time, so vi.useFakeTimers() drives them (and
// vi.setSystemTime() jumps the wall clock alone, as a real clock step would).

/**
 * How far a quick reading of (wall − monotonic) may stray from the calibrated offset before the offset is
 * measured again: Date.now() is truncated to the millisecond, so a quick reading is up to 1 ms low, more if
 * the process was descheduled between the two reads. Past this, the wall clock may have been stepped.
 */
export const CLOCK_JITTER_MS = 2;

/** Reads of a clock that has not moved after which it is taken to stand still (fake timers). */
const STILL_READS = 1_000;
/** Calibration gives up waiting for Date.now() to tick after this long (it ticks every millisecond). */
const CALIBRATION_LIMIT_MS = 5;

/** wall − monotonic, as last calibrated; NaN before the first read. */
let offsetMs = Number.NaN;

export const clock = {
  /** Epoch milliseconds, as every slot and `scheduledAt` is expressed. */
  wallMs(): number {
    return Date.now();
  },

  /** Milliseconds on a clock that only moves forward at a steady rate; the timer queue is keyed on it. */
  monoMs(): number {
    return performance.now();
  },

  /**
   * wall − monotonic: where the monotonic clock reads m, Date.now() reads at least m + offset. One value for
   * every conversion, so slots due at one wall instant share one monotonic instant. It changes only when
   * the wall clock is stepped (both clocks follow NTP's gradual corrections alike), which is then noticed.
   */
  offsetMs(): number {
    const driftMs = clock.wallMs() - clock.monoMs() - offsetMs;
    if (!(driftMs >= -CLOCK_JITTER_MS && driftMs <= CLOCK_JITTER_MS)) offsetMs = calibrate();
    return offsetMs;
  },

  /** The monotonic instant at which Date.now() reaches `wallMs` (never a moment before it). */
  monoAt(wallMs: number): number {
    return wallMs - clock.offsetMs();
  },
};

/**
 * Measures wall − monotonic at the instant Date.now() ticks to the next millisecond, when its truncation
 * hides nothing: microseconds off rather than up to a millisecond, so waits are not late by the truncation.
 * Busy-waits up to a millisecond, once at start and after each clock step. Every value it returns is at most
 * the true offset, so an instant converted with it is never early.
 */
function calibrate(): number {
  let lastWallMs = clock.wallMs();
  let lastMonoMs = clock.monoMs();
  const fallbackMs = lastWallMs - lastMonoMs; // low by under a millisecond
  const giveUpAtMs = lastMonoMs + CALIBRATION_LIMIT_MS;
  let stillReads = 0;
  for (;;) {
    const wallMs = clock.wallMs();
    const monoMs = clock.monoMs();
    if (wallMs !== lastWallMs) {
      // Date.now() ticked after lastMonoMs: the tick's true wall time is wallMs, read within a few µs.
      if (monoMs - lastMonoMs < 0.05) return wallMs - monoMs;
      lastWallMs = wallMs; // descheduled meanwhile: wait for the next tick
    }
    stillReads = monoMs === lastMonoMs ? stillReads + 1 : 0;
    if (stillReads >= STILL_READS || monoMs >= giveUpAtMs) return fallbackMs;
    lastMonoMs = monoMs;
  }
}
