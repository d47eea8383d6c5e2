// The watchdog's thread (see ./index.ts). It polls the main thread's heartbeat; while the beats have stopped
// it reads the runs in flight from its own database connection, and reaches into the stuck main thread
// through the inspector, whose commands V8 runs at its next interrupt check even inside `for (;;) {}`.
import { writeSync } from 'node:fs';
import { Session } from 'node:inspector';
import { constants } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import Sqlite from 'better-sqlite3';
import { pino } from 'pino';
import { createLogger } from '../log.js';
import { runsOnStack } from './handler-files.js';
import { BEAT, HOOKS_KEY, STARTED, type WatchdogMessage, type WatchdogWorkerData } from './index.js';
import {
  describeRun,
  formatSeconds,
  quarantine,
  quarantineEntries,
  type RunInFlight,
  readRunsInFlight,
  writePendingQuarantine,
} from './runs-in-flight.js';

const data = workerData as WatchdogWorkerData;
const beats = new Int32Array(data.heartbeat);
const probeLength = new Int32Array(data.probe, 0, 1);
const probeText = new Uint8Array(data.probe, 4);

const CHECK_EVERY_MS = 200;
/** How long the stuck thread gets to write its stack, or to exit, before we assume it is outside JS. */
const PROBE_WAIT_MS = 500;
const EXIT_WAIT_MS = 2_000;
/** How long the worker waits for a lock on the database (it may block: it is not the event loop). */
const DATABASE_WAIT_MS = 1_000;
/** A stop signal ends a stall this old at once: waiting for the main thread could take the hard limit. */
const SIGNAL_STALL_MS = Math.min(data.warnAfterMs, 2_000);

// Straight to the file descriptor: a worker's process.stdout is relayed by the main thread, which is stuck.
const log = createLogger({
  level: data.logLevel,
  token: data.token,
  destination: pino.destination({ dest: 1, sync: true }) as unknown as NodeJS.WritableStream,
}).child({ source: 'watchdog' });

let lastBeat = Atomics.load(beats, BEAT);
let lastBeatAt = performance.now();
let warned = false;
let ending = false;
let pendingSignal: string | undefined;
let session: Session | undefined;
let database: Sqlite.Database | undefined;
let handlerFiles = new Map<string, string>();

parentPort?.on('message', (message: WatchdogMessage) => {
  handlerFiles = new Map(message.handlerFiles);
});

setInterval(check, CHECK_EVERY_MS);
watchStopSignals();

function check(): void {
  if (ending) return;
  const now = performance.now();
  const beat = Atomics.load(beats, BEAT);
  if (beat !== lastBeat) {
    if (warned) {
      const blockedMs = now - lastBeatAt;
      log.info(
        { blockedMs: Math.round(blockedMs) },
        `the event loop runs again after ${formatSeconds(blockedMs)}`,
      );
    }
    lastBeat = beat;
    lastBeatAt = now;
    warned = false;
    endStallResources();
    return;
  }
  const blockedMs = now - lastBeatAt;
  if (pendingSignal !== undefined && blockedMs >= SIGNAL_STALL_MS) {
    endOnSignal(pendingSignal, blockedMs);
  } else if (data.limitMs !== null && blockedMs >= data.limitMs && Atomics.load(beats, STARTED) === 1) {
    endOnStall(blockedMs);
  } else if (!warned && blockedMs >= data.warnAfterMs) {
    warned = true;
    const runs = runsInFlight();
    const stack = mainThreadStack();
    const stuckIn = runsOnStack(runs.runs, stack, handlerFiles);
    const during = Atomics.load(beats, STARTED) === 1 ? '' : ' during start-up';
    log.warn(
      {
        blockedMs: Math.round(blockedMs),
        runsInFlight: runs.runs,
        stuckIn: stuckIn.certain ? stuckIn.runs.map(describeRun) : undefined,
        stack,
      },
      `the event loop has been blocked for ${formatSeconds(blockedMs)}${during}; ${describeRuns(runs)}`,
    );
  }
}

/** Past the hard limit: fail the tasks in flight so they do not block the next start, then end the process. */
function endOnStall(blockedMs: number): void {
  ending = true;
  const { runs, error } = runsInFlight();
  const stack = mainThreadStack();
  const blocked = formatSeconds(data.limitMs ?? blockedMs);
  let outcome: string;
  if (error !== undefined) {
    outcome = `the runs in flight could not be read (${error}), so no task was failed`;
  } else if (runs.length === 0) {
    outcome = 'no task run was in flight (the block was elsewhere), so no task was failed';
  } else {
    // The runs whose handler the thread is stuck in; when the stack shows none, every run in flight.
    const guilty = runsOnStack(runs, stack, handlerFiles).runs;
    const names = guilty.map(describeRun).join(', ');
    const spared = runs.filter((run) => !guilty.includes(run));
    const sparedNote =
      spared.length === 0
        ? ''
        : `; left alone, as the bot is not stuck in them: ${spared.map(describeRun).join(', ')}`;
    try {
      quarantine(openDatabase(), guilty, data.limitMs ?? blockedMs, Date.now());
      outcome = `failed ${names}, so that ${guilty.length === 1 ? 'it does' : 'they do'} not run again${sparedNote}`;
    } catch (caught) {
      // The stall is inside a write transaction of the main thread, whose lock outlives any wait here: leave
      // the quarantine beside the database for the next start to apply before it resumes anything.
      try {
        writePendingQuarantine(
          data.databasePath,
          quarantineEntries(guilty, data.limitMs ?? blockedMs),
          data.shards,
        );
        outcome = `will fail ${names} at the next start (the database is locked now: ${errorText(caught)})${sparedNote}`;
      } catch (writing) {
        outcome = `could not fail ${names} (${errorText(caught)}; ${errorText(writing)}), so they may run again`;
      }
    }
  }
  const message = `the event loop was blocked for ${blocked}: exiting (code 1) for a supervisor to restart the bot; ${outcome}`;
  log.fatal({ blockedMs: Math.round(blockedMs), runsInFlight: runs, stack }, message);
  writeSync(2, `Metronome: ${message}.\n`);
  endProcess(1);
}

/** SIGTERM or SIGINT while the loop is stuck: the main thread's handler cannot run, so end the process here. */
function endOnSignal(signal: string, blockedMs: number): void {
  ending = true;
  const runs = runsInFlight();
  log.fatal(
    { signal, blockedMs: Math.round(blockedMs), runsInFlight: runs.runs },
    `${signal} while the event loop has been blocked for ${formatSeconds(blockedMs)}: exiting (code 1) ` +
      `without stopping gracefully; ${describeRuns(runs)}`,
  );
  endProcess(1);
}

/** Runs process.exit on the main thread; if it is stuck outside JavaScript (native code), SIGKILL. */
function endProcess(code: number): void {
  try {
    inspector().post('Runtime.evaluate', {
      expression: `globalThis[Symbol.for(${JSON.stringify(HOOKS_KEY.description)})].exit(${code})`,
    });
  } catch (error) {
    log.error({ err: error }, 'the inspector is not available');
  }
  setTimeout(() => {
    log.fatal('the main thread did not exit (stuck outside JavaScript?): killing the process');
    process.kill(process.pid, 'SIGKILL');
  }, EXIT_WAIT_MS).unref();
}

/** The stuck main thread's stack (the top frame first), or undefined if it did not answer in time. */
function mainThreadStack(): string[] | undefined {
  try {
    Atomics.store(probeLength, 0, -1);
    inspector().post('Runtime.evaluate', {
      expression: `globalThis[Symbol.for(${JSON.stringify(HOOKS_KEY.description)})].probe()`,
    });
    if (Atomics.wait(probeLength, 0, -1, PROBE_WAIT_MS) === 'timed-out') return undefined;
    const text = Buffer.from(probeText.subarray(0, Atomics.load(probeLength, 0))).toString('utf8');
    // Past the "Error" header; the <anonymous> frame is the inspector's evaluation, not the stuck code.
    return text
      .split('\n')
      .slice(1)
      .map((line) => line.trim().replace(/^at /, ''))
      .filter((line) => line !== '' && !line.startsWith('<anonymous>'));
  } catch (error) {
    log.debug({ err: error }, 'could not read the main thread stack');
    return undefined;
  }
}

function runsInFlight(): { runs: RunInFlight[]; error?: string } {
  try {
    return { runs: readRunsInFlight(openDatabase(), data.shards) };
  } catch (error) {
    return { runs: [], error: errorText(error) };
  }
}

function describeRuns({ runs, error }: { runs: RunInFlight[]; error?: string }): string {
  if (error !== undefined) return `the runs in flight could not be read (${error})`;
  if (runs.length === 0) return 'no task run is in flight';
  return `run${runs.length === 1 ? '' : 's'} in flight: ${runs.map(describeRun).join(', ')}`;
}

function openDatabase(): Sqlite.Database {
  database ??= new Sqlite(data.databasePath, { fileMustExist: true, timeout: DATABASE_WAIT_MS });
  return database;
}

function inspector(): Session {
  if (session === undefined) {
    session = new Session();
    session.connectToMainThread();
  }
  return session;
}

/** Costs nothing while all is well: the connection and the inspector session live only during a stall. */
function endStallResources(): void {
  database?.close();
  database = undefined;
  session?.disconnect();
  session = undefined;
}

/**
 * Worker threads get no signal events, but libuv delivers a signal to every watcher of it in the process, one
 * per thread's loop: a watcher made here fires even while the main thread is stuck. Node only offers that
 * through its internal signal_wrap binding; without it, a stall ends at the hard limit.
 */
function watchStopSignals(): void {
  if (!data.handleSignals) return;
  interface SignalHandle {
    onsignal: () => void;
    start(signal: number): number;
    unref(): void;
  }
  try {
    const quiet = process.noDeprecation;
    process.noDeprecation = true; // process.binding warns (DEP0111); this use is deliberate
    const binding = (
      process as unknown as { binding(name: string): { Signal: new () => SignalHandle } }
    ).binding('signal_wrap');
    process.noDeprecation = quiet;
    for (const name of ['SIGTERM', 'SIGINT'] as const) {
      const handle = new binding.Signal();
      handle.onsignal = () => {
        pendingSignal ??= name;
        check();
      };
      if (handle.start(constants.signals[name]) !== 0) throw new Error(`could not watch ${name}`);
      handle.unref();
    }
  } catch (error) {
    log.warn({ err: error }, 'stop signals during a stall will wait for the hard limit');
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
