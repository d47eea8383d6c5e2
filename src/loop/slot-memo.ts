// The slots of a wall-clock schedule (times of day or cron, in a zone) computed so far, shared by every loop
// on that schedule. Loops on equal schedules hold one shared schedule object (normalizeSchedule), so 100,000
// loops on one cron expression and zone compute each slot once between them, not once each; a restart's
// firstDueAt for each of them is a lookup. A slot is a pure function of (schedule, instant), so a remembered
// one is exact, never an approximation.

/** All the slots in [fromMs, slots.at(-1)], in order: a query in that range is answered without computing. */
interface SlotWindow {
  fromMs: number;
  slots: number[];
}

/** Slots kept per schedule: enough for loops a few slots apart; a loop further behind computes its own. */
const WINDOW_SLOTS = 8;

/**
 * Windows kept, oldest dropped first. Loops on equal schedules share one schedule object, so this is one
 * window per schedule in use, not per loop; the cap bounds it even when they do not (more distinct
 * schedules than normalizeSchedule keeps shared), and a dropped window only costs a recomputation.
 */
const WINDOW_LIMIT = 4_096;

const windows = new Map<object, SlotWindow>();

/**
 * `slotAtOrAfter(schedule, atOrAfterMs)` for `schedule`, remembered. `slotAtOrAfter` must be the schedule's pure
 * first-slot-at-or-after function; what it throws is thrown, and nothing is remembered.
 */
export function memoizedSlot<S extends object>(
  schedule: S,
  atOrAfterMs: number,
  slotAtOrAfter: (schedule: S, atOrAfterMs: number) => number,
): number {
  if (!Number.isFinite(atOrAfterMs)) return slotAtOrAfter(schedule, atOrAfterMs);
  const window = windows.get(schedule);
  if (window === undefined) {
    const slotMs = slotAtOrAfter(schedule, atOrAfterMs);
    if (windows.size >= WINDOW_LIMIT) windows.delete(windows.keys().next().value!);
    windows.set(schedule, { fromMs: atOrAfterMs, slots: [slotMs] });
    return slotMs;
  }
  const { slots } = window;
  const lastMs = slots[slots.length - 1]!;
  if (atOrAfterMs >= window.fromMs && atOrAfterMs <= lastMs) {
    for (const slotMs of slots) if (slotMs >= atOrAfterMs) return slotMs;
  }
  if (atOrAfterMs > lastMs) {
    // The window grows from its own end, so it stays gap-free: the slot after it is the answer for every
    // loop asking between the last slot and that one (each asks from the moment it finished, say).
    const nextMs = slotAtOrAfter(schedule, lastMs + 1);
    if (nextMs >= atOrAfterMs) {
      slots.push(nextMs);
      if (slots.length > WINDOW_SLOTS) window.fromMs = slots.shift()! + 1;
      return nextMs;
    }
    const slotMs = slotAtOrAfter(schedule, atOrAfterMs);
    window.fromMs = atOrAfterMs;
    window.slots = [slotMs];
    return slotMs;
  }
  // Before the window: the window reaches back to here when nothing lies between, else starts here.
  const slotMs = slotAtOrAfter(schedule, atOrAfterMs);
  if (slotMs >= window.fromMs) window.fromMs = atOrAfterMs;
  else {
    window.fromMs = atOrAfterMs;
    window.slots = [slotMs];
  }
  return slotMs;
}
