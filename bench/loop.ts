// `npm run bench -- loop [--seconds N]`: firing accuracy of the loop engine beside plain setInterval and
// croner (200 one-second loops over N real seconds, default 20), then the cost of 100,000 loops (the fire rate
// of interval and of cron loops side by side), then the cron path's own costs.
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Cron } from 'croner';
import { type LoopOptions, loop } from '../src/loop/index.js';
import { firstDueAt, normalizeSchedule, slotAtOrAfter, type WallSchedule } from '../src/loop/schedule.js';

const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg === -1 ? 20 : Number(process.argv[secondsArg + 1]);
if (!Number.isFinite(SECONDS) || SECONDS < 2) throw new RangeError('--seconds must be a number >= 2');
const LOOPS = 200;
const MANY = 100_000;

// A gc() without re-spawning node with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Wall-clock now with sub-millisecond resolution. */
const nowMs = () => performance.timeOrigin + performance.now();

interface Series {
  errors: number[];
  /** Fires that ran before Date.now() reached their slot. */
  early: number;
  /** Per loop, the firing error of its last fire: grows over time if the engine drifts. */
  lastError: number[];
  firstError: number[];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summarize(name: string, s: Series): string {
  const sorted = [...s.errors].sort((a, b) => a - b);
  const median = (xs: number[]) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    );
  const drift = median(s.lastError) - median(s.firstError);
  return [
    name.padEnd(12),
    String(s.errors.length).padStart(6),
    percentile(sorted, 50).toFixed(2).padStart(8),
    percentile(sorted, 99).toFixed(2).padStart(8),
    sorted.at(-1)!.toFixed(2).padStart(8),
    String(s.early).padStart(6),
    drift.toFixed(2).padStart(12),
  ].join(' ');
}

function newSeries(): Series {
  return {
    errors: [],
    early: 0,
    lastError: new Array(LOOPS).fill(0),
    firstError: new Array(LOOPS).fill(Number.NaN),
  };
}

/** One fire of loop `index`, `errorMs` after its slot; early when Date.now() had not reached `slotMs` yet. */
function record(s: Series, index: number, errorMs: number, slotMs: number): void {
  s.errors.push(errorMs);
  if (Date.now() < slotMs) s.early++;
  if (Number.isNaN(s.firstError[index]!)) s.firstError[index] = errorMs;
  s.lastError[index] = errorMs;
}

async function accuracy(): Promise<void> {
  console.log(
    `Firing error, ${LOOPS} loops × 1 s interval, ${SECONDS} s real time, all four running side by side`,
  );
  const ours = newSeries();
  const interval = newSeries();
  const cron = newSeries();
  const oneShot = newSeries();
  const stops: (() => void)[] = [];

  // Start half a second away from croner's whole seconds so the three do not queue behind each other.
  const toHalf = 1_500 - (Date.now() % 1_000);
  await sleep(toHalf % 1_000);

  for (let i = 0; i < LOOPS; i++) {
    const startMs = Date.now(); // the engine schedules on Date.now(): slot n is startMs + n s
    const l = loop({ seconds: 1 }, (ctx) => {
      // Iteration 0 is the immediate call at start(), not a timed fire (and waits for this setup to finish).
      if (ctx.iteration > 0)
        record(ours, i, nowMs() - (startMs + ctx.iteration * 1_000), ctx.scheduledAt.getTime());
    });
    void l.start();
    stops.push(() => l.stop());
  }
  for (let i = 0; i < LOOPS; i++) {
    const startMs = nowMs();
    const startWallMs = Date.now();
    let n = 0;
    const handle = setInterval(() => {
      n++;
      record(interval, i, nowMs() - (startMs + n * 1_000), startWallMs + n * 1_000);
    }, 1_000);
    stops.push(() => clearInterval(handle));
  }
  // The platform's floor: one-shot setTimeout re-armed for each absolute slot, one Node timer per loop.
  for (let i = 0; i < LOOPS; i++) {
    const startMs = Date.now();
    let n = 0;
    let handle: ReturnType<typeof setTimeout>;
    const arm = () => {
      handle = setTimeout(
        () => {
          n++;
          record(oneShot, i, nowMs() - (startMs + n * 1_000), startMs + n * 1_000);
          arm();
        },
        startMs + (n + 1) * 1_000 - Date.now(),
      );
    };
    arm();
    stops.push(() => clearTimeout(handle));
  }
  for (let i = 0; i < LOOPS; i++) {
    const job = new Cron('* * * * * *', () => {
      const now = nowMs();
      const slotMs = Math.round(now / 1_000) * 1_000; // the whole second it was due at
      record(cron, i, now - slotMs, slotMs);
    });
    stops.push(() => job.stop());
  }

  await sleep(SECONDS * 1_000);
  for (const stop of stops) stop();
  console.log(
    `${'engine'.padEnd(12)} ${'fires'.padStart(6)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'early'.padStart(6)} ${'drift ms'.padStart(12)}`,
  );
  console.log(summarize('metronome', ours));
  console.log(summarize('setInterval', interval));
  console.log(summarize('croner', cron));
  console.log(summarize('setTimeout*', oneShot));
  console.log(
    '(setTimeout*: a one-shot Node timer per loop re-armed for each absolute slot, the platform floor)',
  );
  console.log("(drift: median error of each loop's last fire minus its first; 0 means no cumulative drift)");
  console.log('(early: fires that ran before Date.now() reached their slot; metronome must show 0)');
}

function heapUsedMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1e6;
}

async function many(): Promise<void> {
  console.log(`\n${MANY.toLocaleString('en')} loops`);
  await sleep(100);

  // Scheduling time and heap: every loop created, started (its first iteration runs at once) and parked,
  // waiting for its next slot a minute away.
  const noop = () => {};
  const heapBefore = heapUsedMb();
  const t0 = performance.now();
  const loops = Array.from({ length: MANY }, () => loop({ seconds: 60 }, noop));
  const t1 = performance.now();
  for (const l of loops) void l.start();
  const t2 = performance.now();
  await sleep(200);
  const heapMb = heapUsedMb() - heapBefore;
  console.log(
    `  metronome    create ${(t1 - t0).toFixed(0)} ms + start ${(t2 - t1).toFixed(0)} ms; heap growth ` +
      `${heapMb.toFixed(1)} MB (${((heapMb * 1e6) / MANY).toFixed(0)} B/loop) with all ${MANY.toLocaleString('en')} parked`,
  );
  for (const l of loops) l.stop();
  loops.length = 0;
  await sleep(100);

  // For scale: plain setInterval timers, and croner jobs (croner at 10,000: 100,000 jobs exhausted a 4 GB heap).
  {
    const before = heapUsedMb();
    const t = performance.now();
    const handles = Array.from({ length: MANY }, () => setInterval(noop, 60_000));
    const ms = performance.now() - t;
    const mb = heapUsedMb() - before;
    console.log(
      `  setInterval  create ${ms.toFixed(0)} ms; heap growth ${mb.toFixed(1)} MB for ${MANY.toLocaleString('en')}`,
    );
    for (const h of handles) clearInterval(h);
  }
  {
    const CRONS = 10_000;
    const before = heapUsedMb();
    const t = performance.now();
    const jobs = Array.from({ length: CRONS }, () => new Cron('0 * * * * *', noop));
    const ms = performance.now() - t;
    const mb = heapUsedMb() - before;
    console.log(
      `  croner       create ${ms.toFixed(0)} ms; heap growth ${mb.toFixed(1)} MB for ${CRONS.toLocaleString('en')}`,
    );
    for (const j of jobs) j.stop();
  }

  await fireRate('interval', { seconds: 1 });
  await fireRate('cron', { cron: '* * * * * *', timeZone: CRON_ZONE });
}

/** The zone of the cron rows: one with DST, since a loop's cron is always read in some zone. */
const CRON_ZONE = 'America/New_York';

/**
 * 0-work fire rate: 100,000 loops all due on the same whole seconds; each batch is timed from its first
 * callback to its last.
 */
async function fireRate(label: string, schedule: LoopOptions): Promise<void> {
  const batches = new Map<number, { first: number; last: number; fires: number }>();
  const counted = (ctx: { scheduledAt: Date }) => {
    const now = performance.now();
    const key = ctx.scheduledAt.getTime();
    const batch = batches.get(key);
    if (batch === undefined) batches.set(key, { first: now, last: now, fires: 1 });
    else {
      batch.last = now;
      batch.fires++;
    }
  };
  // resume() puts every loop on the same grid (whole seconds) however long starting them all takes.
  const firstDueAt = Math.ceil(Date.now() / 1_000) * 1_000 + 1_000;
  const firing = Array.from({ length: MANY }, () => loop(schedule, counted));
  for (const l of firing) void l.resume({ currentLoop: 0, firstDueAt });
  const runStart = performance.now();
  const cpuStart = process.cpuUsage();
  await sleep(5_000);
  const cpu = process.cpuUsage(cpuStart);
  for (const l of firing) l.stop();
  const runSeconds = (performance.now() - runStart) / 1_000;
  const full = [...batches.values()].filter((b) => b.fires === MANY && b.last > b.first);
  const rates = full.map((b) => b.fires / ((b.last - b.first) / 1_000)).sort((a, b) => a - b);
  const total = [...batches.values()].reduce((sum, b) => sum + b.fires, 0);
  console.log(
    `  ${label.padEnd(9)} 0-work fire rate: ${Math.round(percentile(rates, 50)).toLocaleString('en')} fires/s within a batch ` +
      `(median of ${rates.length} batches of ${MANY.toLocaleString('en')}; batch time ${((MANY / percentile(rates, 50)) * 1_000).toFixed(0)} ms); ` +
      `${total.toLocaleString('en')} fires in ${runSeconds.toFixed(1)} s, ${((cpu.user + cpu.system) / total).toFixed(1)} µs of CPU each`,
  );
  await sleep(100);
}

/**
 * The cron path on its own: creating and starting 10,000 cron loops; one slot computed afresh (no loop shares
 * it); and a restart's first slots, 100,000 × firstDueAt over a handful of expressions and zones, as the task
 * runtime asks them (one normalized schedule per row).
 */
async function cronCosts(): Promise<void> {
  console.log(`\ncron (zone ${CRON_ZONE} unless named)`);
  const noop = () => {};
  const CRONS = 10_000;
  const heapBefore = heapUsedMb();
  const t0 = performance.now();
  const loops = Array.from({ length: CRONS }, () => loop({ cron: '0 * * * * *', timeZone: CRON_ZONE }, noop));
  const t1 = performance.now();
  for (const l of loops) void l.start();
  await Promise.resolve();
  const t2 = performance.now();
  const heapMb = heapUsedMb() - heapBefore;
  console.log(
    `  create ${(t1 - t0).toFixed(0)} ms + start ${(t2 - t1).toFixed(0)} ms for ${CRONS.toLocaleString('en')} cron loops; ` +
      `heap growth ${heapMb.toFixed(1)} MB (${((heapMb * 1e6) / CRONS).toFixed(0)} B/loop) with all parked`,
  );
  for (const l of loops) l.stop();

  const kinds: [string, string][] = [
    ['* * * * *', 'America/New_York'],
    ['0 2 * * *', 'Europe/London'],
    ['30 1 * * 0', 'Australia/Lord_Howe'],
    ['0 */6 * * *', 'Asia/Kathmandu'],
    ['*/10 * * * * *', 'Pacific/Chatham'],
    ['0 9 * * 1-5', 'America/Sao_Paulo'],
  ];
  const nowMs = Date.now();
  // Per expression, instants a day and a bit apart over the next year, each queried once, so no slot is
  // remembered from another query (slotAtOrAfter is the computation the shared window saves). The zone's
  // formatter and the parsed expression are made first; the best of five rounds is shown, as other work on
  // the machine only ever adds to a round.
  const SLOTS = 365;
  const costs: string[] = [];
  for (const [cron, timeZone] of kinds) {
    const schedule = normalizeSchedule({ cron, timeZone }) as WallSchedule;
    slotAtOrAfter(schedule, nowMs - 86_400_000);
    let bestUs = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 5; round++) {
      const t = performance.now();
      for (let i = 0; i < SLOTS; i++) slotAtOrAfter(schedule, nowMs + round * 1_000 + i * 86_461_000);
      bestUs = Math.min(bestUs, ((performance.now() - t) * 1_000) / SLOTS);
    }
    costs.push(`${cron} ${timeZone} ${bestUs.toFixed(1)}`);
  }
  console.log(
    `  one slot computed afresh, µs (mean of ${SLOTS} over a year, best of 5): ${costs.join('; ')}`,
  );

  const ROWS = 100_000;
  const t4 = performance.now();
  const schedules = Array.from({ length: ROWS }, (_, i) => {
    const [cron, timeZone] = kinds[i % kinds.length]!;
    return normalizeSchedule({ cron, timeZone });
  });
  const t5 = performance.now();
  for (let i = 0; i < ROWS; i++) firstDueAt(schedules[i]!, nowMs + i);
  const t6 = performance.now();
  console.log(
    `  restart: ${ROWS.toLocaleString('en')} rows over ${kinds.length} expressions and zones: normalizeSchedule ` +
      `${(t5 - t4).toFixed(0)} ms + firstDueAt ${(t6 - t5).toFixed(0)} ms`,
  );
}

await accuracy();
await many();
await cronCosts();
