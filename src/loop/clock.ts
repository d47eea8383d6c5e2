// The one place the loop engine reads time. Wall-clock time (Date.now()) says when a slot is; monotonic time
// (performance.now()) measures how long to wait, since it never jumps when NTP steps the clock or a VM
// resumes. Both are read through the globals at call time, so vi.useFakeTimers() drives them (and
// vi.setSystemTime() jumps the wall clock alone, as a real clock step would).

export const clock = {
  /** Epoch milliseconds, as every slot and `scheduledAt` is expressed. */
  wallMs(): number {
    return Date.now();
  },
  /** Milliseconds on a clock that only moves forward at a steady rate; the timer queue is keyed on it. */
  monoMs(): number {
    return performance.now();
  },
};

/**
 * How far apart two readings of (wall − monotonic) may be without counting as a clock jump: Date.now() is
 * truncated to the millisecond while performance.now() is not, so the difference wobbles below 1 ms.
 */
export const CLOCK_JITTER_MS = 2;
