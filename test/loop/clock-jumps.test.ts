// Wall-clock jumps (NTP steps, a VM resuming) and stalls (issue 9, item 12), driven by fake timers:
// vi.setSystemTime() moves Date.now() alone, as a real clock step does, while performance.now() and the
// timers keep monotonic time.
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { clock } from '../../src/loop/clock.js';
import {
  type Loop,
  type LoopContext,
  type LoopOptions,
  loop,
  MISSED_AFTER_MS,
  type SlotMissedInfo,
  TransientError,
} from '../../src/loop/index.js';
import { sharedTimerQueue, WALL_CHECK_MS } from '../../src/loop/timer-queue.js';

const START = Date.parse('2025-01-06T08:00:00Z');
const SECOND = 1_000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

interface Fire {
  iteration: number;
  /** ctx.scheduledAt */
  slot: number;
  /** The wall clock (Date.now()) when the callback ran */
  wall: number;
  /** The monotonic clock (performance.now()) when the callback ran */
  mono: number;
}

const created: Loop<never[]>[] = [];
let consoleError: MockInstance<typeof console.error>;
const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

/** A loop that records every call; afterEach makes sure it is gone and that no call ran early. */
function recorded(options: LoopOptions) {
  const fires: Fire[] = [];
  const missed: SlotMissedInfo[] = [];
  const l = loop(options, (ctx: LoopContext) => {
    fires.push({
      iteration: ctx.iteration,
      slot: ctx.scheduledAt.getTime(),
      wall: clock.wallMs(),
      mono: clock.monoMs(),
    });
  });
  l.observe({ slotMissed: (info) => missed.push(info) });
  created.push(l as unknown as Loop<never[]>);
  allFires.push(fires);
  return { l, fires, missed };
}
const allFires: Fire[][] = [];

beforeEach(() => {
  vi.useFakeTimers({ now: START });
  consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
});

afterEach(async () => {
  for (const l of created.splice(0)) l.cancel();
  await tick(0);
  const fired = allFires.splice(0);
  const errors = consoleError.mock.calls;
  expect(sharedTimerQueue.size).toBe(0);
  vi.useRealTimers();
  vi.restoreAllMocks();
  // Never early, whatever the clock did: every callback saw the wall clock at or past its slot.
  for (const fires of fired) expect(fires.filter((f) => f.wall < f.slot)).toEqual([]);
  expect(errors).toEqual([]);
});

describe('an interval loop waits on the monotonic clock', () => {
  it('is not delayed by a 1 h backward jump: its grid moves back with the wall clock', async () => {
    const { l, fires } = recorded({ seconds: 10 });
    void l.start();
    await tick(5 * SECOND);
    vi.setSystemTime(Date.now() - HOUR);
    await tick(25 * SECOND);
    // Back by exactly 360 intervals, the grid moves a millisecond further, so that no slot repeats one
    // already run (a nonce made from the slot would repeat with it).
    expect(fires.map((f) => f.mono)).toEqual([0, 10_000, 19_999, 29_999]);
    const back = -HOUR - 1;
    expect(fires.map((f) => f.slot - START)).toEqual([0, 10_000 + back, 20_000 + back, 30_000 + back]);
    expect(fires.map((f) => f.iteration)).toEqual([0, 1, 2, 3]);
    expect(l.nextIteration?.getTime()).toBe(START + back + 40_000);
  });

  it('never repeats a slot it has run after a backward jump of whole intervals within the nonce window', async () => {
    const { l, fires } = recorded({ seconds: 10 });
    void l.start();
    await tick(65 * SECOND); // slots 0 … 60 s have run
    vi.setSystemTime(Date.now() - MINUTE);
    await tick(90 * SECOND);
    const slots = fires.map((f) => f.slot);
    expect(new Set(slots).size).toBe(slots.length);
    // On time by the monotonic clock throughout (the millisecond aside).
    expect(fires.map((f) => f.mono)).toEqual(
      Array.from({ length: 16 }, (_, i) => (i <= 7 ? i * 10_000 : i * 10_000 - 1)),
    );
  });

  it('keeps its spacing after a 1 h forward jump: no two runs in the same second', async () => {
    const { l, fires, missed } = recorded({ seconds: 10 });
    void l.start();
    await tick(5 * SECOND);
    vi.setSystemTime(Date.now() + HOUR);
    await tick(25 * SECOND);
    expect(fires.map((f) => f.mono)).toEqual([0, 10_000, 20_000, 30_000]);
    expect(fires.map((f) => f.slot - START)).toEqual([0, 10_000 + HOUR, 20_000 + HOUR, 30_000 + HOUR]);
    expect(missed).toEqual([]); // no interval passed on the monotonic clock: nothing was missed
  });

  it('skips a slot the process was stalled through, or runs it once late with catchUp once', async () => {
    // A stall: both clocks move on while no timer gets to run.
    const stall = (ms: number) => {
      const wall = clock.wallMs;
      const mono = clock.monoMs;
      vi.spyOn(clock, 'wallMs').mockImplementation(() => wall() + ms);
      vi.spyOn(clock, 'monoMs').mockImplementation(() => mono() + ms);
    };
    const skip = recorded({ seconds: 10 });
    const once = recorded({ seconds: 10, catchUp: 'once' });
    void skip.l.start();
    void once.l.start();
    await tick(5 * SECOND);
    stall(5 * MINUTE + 2 * SECOND); // longer than MISSED_AFTER_MS
    expect(5 * MINUTE).toBeGreaterThan(MISSED_AFTER_MS);
    await tick(15 * SECOND);
    // Seen at 5:12 after start: slot 0:10 was missed; the next on the grid is 5:20.
    expect(skip.fires.map((f) => f.slot - START)).toEqual([0, 320_000]);
    expect(skip.missed).toEqual([
      { scheduledAt: new Date(START + 10_000), nextIteration: new Date(START + 320_000) },
    ]);
    expect(once.fires.map((f) => [f.slot - START, f.wall - START])).toEqual([
      [0, 0],
      [10_000, 312_000], // once, late
      [320_000, 320_000],
    ]);
    expect(once.missed).toEqual([]);
  });
});

describe('a time of day re-reads the wall clock', () => {
  it('skips a daily 09:00 that a 2 h forward jump passed, and says so', async () => {
    const { l, fires, missed } = recorded({ time: '09:00' });
    void l.start();
    await tick(30 * MINUTE);
    vi.setSystemTime(Date.parse('2025-01-06T10:30:00Z'));
    await tick(WALL_CHECK_MS);
    expect(fires).toEqual([]);
    expect(missed).toEqual([
      { scheduledAt: new Date('2025-01-06T09:00:00Z'), nextIteration: new Date('2025-01-07T09:00:00Z') },
    ]);
    expect(l.nextIteration?.toISOString()).toBe('2025-01-07T09:00:00.000Z');
    await tick(DAY);
    expect(fires.map((f) => iso(f.slot))).toEqual(['2025-01-07T09:00:00.000Z']);
    expect(fires[0]!.wall).toBe(fires[0]!.slot);
  });

  it('with catchUp once, runs that 09:00 once, as soon as it sees the jump, then tomorrow on time', async () => {
    const { l, fires, missed } = recorded({ time: '09:00', catchUp: 'once' });
    void l.start();
    await tick(30 * MINUTE);
    vi.setSystemTime(Date.parse('2025-01-06T10:30:00Z'));
    await tick(WALL_CHECK_MS);
    expect(fires.map((f) => iso(f.slot))).toEqual(['2025-01-06T09:00:00.000Z']);
    expect(fires[0]!.wall - Date.parse('2025-01-06T10:30:00Z')).toBeLessThanOrEqual(WALL_CHECK_MS);
    await tick(DAY);
    expect(fires.map((f) => iso(f.slot))).toEqual(['2025-01-06T09:00:00.000Z', '2025-01-07T09:00:00.000Z']);
    expect(missed).toEqual([]);
  });

  it('runs a slot a small jump passed (under a minute late), once', async () => {
    const { l, fires, missed } = recorded({ time: '09:00' });
    void l.start();
    await tick(59 * MINUTE + 50 * SECOND);
    vi.setSystemTime(Date.parse('2025-01-06T09:00:20Z'));
    await tick(WALL_CHECK_MS);
    expect(fires.map((f) => iso(f.slot))).toEqual(['2025-01-06T09:00:00.000Z']);
    expect(fires[0]!.wall - fires[0]!.slot).toBeLessThanOrEqual(20 * SECOND + WALL_CHECK_MS);
    await tick(HOUR);
    expect(fires).toHaveLength(1);
    expect(missed).toEqual([]);
  });

  it('notices a forward jump within WALL_CHECK_MS even when its slot is a day away', async () => {
    expect(WALL_CHECK_MS).toBeLessThanOrEqual(MINUTE);
    const { l, fires } = recorded({ time: '07:00' }); // tomorrow, 23 h away
    void l.start();
    await tick(10 * MINUTE);
    vi.setSystemTime(Date.parse('2025-01-07T06:59:50Z'));
    await tick(WALL_CHECK_MS);
    expect(fires.map((f) => iso(f.slot))).toEqual(['2025-01-07T07:00:00.000Z']);
  });

  it('never runs a slot twice after a backward jump, and waits the longer way round for the next', async () => {
    const { l, fires } = recorded({ time: '09:00' });
    void l.start();
    await tick(90 * MINUTE); // 09:30: today's 09:00 has run
    vi.setSystemTime(Date.parse('2025-01-06T08:30:00Z'));
    await tick(DAY + HOUR);
    expect(fires.map((f) => iso(f.slot))).toEqual(['2025-01-06T09:00:00.000Z', '2025-01-07T09:00:00.000Z']);
    expect(fires[1]!.wall).toBe(fires[1]!.slot);
  });

  it('waits on after a backward jump that puts its slot back in the future', async () => {
    const { l, fires } = recorded({ cron: '0 9 * * *' });
    void l.start();
    await tick(50 * MINUTE); // 08:50
    vi.setSystemTime(Date.parse('2025-01-06T07:50:00Z'));
    await tick(HOUR);
    expect(fires).toEqual([]); // 08:50 again: not yet
    await tick(10 * MINUTE);
    expect(fires.map((f) => [iso(f.slot), iso(f.wall)])).toEqual([
      ['2025-01-06T09:00:00.000Z', '2025-01-06T09:00:00.000Z'],
    ]);
  });
});

describe('retries', () => {
  it('measure the retry window on the monotonic clock: a forward jump does not end them early', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const gaveUpAtMono = async (jumpMs: number) => {
      let gaveUpAt = Number.NaN;
      const l = loop({ seconds: 10, retryWindow: { minutes: 2 } }, () => {
        throw new TransientError('Discord is down');
      });
      created.push(l as unknown as Loop<never[]>);
      l.observe({
        iterationEnd: (info) => {
          if (info.gaveUp) gaveUpAt = clock.monoMs();
        },
      });
      const startMono = clock.monoMs();
      void l.start();
      await tick(0);
      vi.setSystemTime(Date.now() + jumpMs); // during the first retry's wait
      await tick(3 * MINUTE);
      l.cancel();
      return gaveUpAt - startMono;
    };
    const steady = await gaveUpAtMono(0);
    expect(steady).toBeGreaterThan(MINUTE);
    expect(await gaveUpAtMono(HOUR)).toBe(steady);
    expect(await gaveUpAtMono(-HOUR)).toBe(steady);
  });
});

describe('catch-up', () => {
  it('always runs the first slot of resume(), however long ago it was: the caller chose to catch up', async () => {
    const { l, fires, missed } = recorded({ minutes: 10 });
    const owedMs = START - 2 * HOUR + 3 * MINUTE;
    void l.resume({ currentLoop: 3, firstDueAt: owedMs });
    await tick(0);
    expect(fires.map((f) => [f.iteration, f.slot, f.wall - START])).toEqual([[3, owedMs, 0]]);
    await tick(10 * MINUTE);
    expect(fires.map((f) => f.slot - START)).toEqual([owedMs - START, 3 * MINUTE]); // back on its grid
    expect(missed).toEqual([]);
  });

  it('refuses an unknown catch-up policy when the loop is made', () => {
    expect(() => loop({ seconds: 1, catchUp: 'always' as 'once' }, () => {})).toThrow(/"catchUp"/);
  });
});
