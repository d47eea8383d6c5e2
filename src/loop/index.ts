// The loop engine's public API: `import { loop } from 'metronome/loop'`. No Discord, no database.
//
//   const ticker = loop({ minutes: 1, count: null }, async (channelId: string, { signal, iteration }) => …);
//   ticker.beforeLoop(…).afterLoop(…).onError(…);
//   const unsubscribe = ticker.observe({ iterationEnd: (info) => …, end: (reason) => … });
//   const ended = ticker.start('123');                              // or, for a persisted task:
//   ticker.resume({ currentLoop: 41, firstDueAt: savedNextRunAt }, '123');
export { BACKOFF_BASE_MS, BACKOFF_CAP_MS, ExponentialBackoff } from './backoff.js';
export { type ErrorClass, isTransientError, LoopCancelledError, TransientError } from './errors.js';
export { Loop, loop, MISSED_AFTER_MS } from './loop.js';
export {
  firstDueAt,
  nextDueAfter,
  normalizeSchedule,
  offsetMs,
  type Schedule,
  type ScheduleOptions,
  type TimeOfDay,
  type TimeOfDayInput,
  type WallTime,
  wallClock,
  wallTimeToInstant,
} from './schedule.js';
export type {
  CatchUpPolicy,
  IterationEndInfo,
  IterationOutcome,
  IterationStartInfo,
  LoopCallback,
  LoopContext,
  LoopEndReason,
  LoopErrorHook,
  LoopHook,
  LoopObserver,
  LoopOptions,
  ResumeState,
  RetryWindow,
  SlotMissedInfo,
} from './types.js';
