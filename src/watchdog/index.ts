// The watchdog: a worker thread that sees the main thread's event loop stall. Code that never yields (a
// handler's `for (;;) {}`) cannot be stopped from inside the loop it blocks: no timer, no AbortSignal and no
// SIGTERM handler runs. So the main thread only beats a heartbeat into shared memory from a short unref'd
// interval, and the worker, on its own thread, notices when the beats stop: it logs the runs in flight past
// the warning threshold and, past the hard limit, fails their tasks and ends the process (exit 1) for a
// supervisor to restart. Started by the entry point (src/main.ts) only; the loop engine knows nothing of it.
import { closeSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LockScope } from '../db/lock.js';
import type { Logger } from '../log.js';

export interface WatchdogOptions {
  /** The bot's database, which the worker opens itself to read the runs in flight. */
  databasePath: string;
  /** The shards this process runs (default: all): only their servers' runs are watched and failed. */
  shards?: LockScope;
  /** A stall this long is logged, with the runs in flight and where the main thread is stuck. */
  warnAfterMs: number;
  /** A stall this long ends the process with exit code 1 after failing the tasks in flight; null: never. */
  limitMs: number | null;
  /** Where the main thread reports a worker that failed; the worker logs on its own, to stdout. */
  log: Logger;
  logLevel: string;
  /** Scrubbed from the worker's log lines, as src/log.ts does on the main thread. */
  token: string;
  /**
   * End the process on SIGTERM/SIGINT received while the loop is stalled (the main thread's handler cannot
   * run then). Only for a process that owns its signals: the entry point, not a test runner.
   */
  handleSignals: boolean;
}

/** What the worker gets (workerData). */
export interface WatchdogWorkerData {
  /** Int32 slots: BEAT (incremented by the main thread) and STARTED (1 once the bot has started). */
  heartbeat: SharedArrayBuffer;
  probe: SharedArrayBuffer;
  databasePath: string;
  shards: LockScope | undefined;
  warnAfterMs: number;
  limitMs: number | null;
  logLevel: string;
  token: string;
  handleSignals: boolean;
}

/** What the main thread tells the worker after it started. */
export interface WatchdogMessage {
  handlerFiles: [kind: string, file: string][];
}

/** The main-thread functions the worker calls through the inspector while the loop is stalled. */
export interface WatchdogHooks {
  /** Writes the main thread's current stack into the probe buffer. */
  probe(): void;
  /** Ends the process from the main thread (a worker's process.exit ends only the worker). */
  exit(code: number): void;
}

export const HOOKS_KEY = Symbol.for('metronome.watchdog');
export const BEAT = 0;
export const STARTED = 1;
/** How often the main thread beats; the worker's view of a stall is this precise. */
export const BEAT_MS = 100;
/** Bytes of stack text the probe buffer holds after its 4-byte length. */
export const PROBE_BYTES = 8192;

export interface Watchdog {
  /**
   * Arms the hard limit. Before this, a stall is only logged: no task run can be in flight yet (nothing to
   * fail), a restart would repeat the same start-up, and the integrity check of a large database is a
   * legitimate long block (see README, Benchmarks).
   */
  started(): void;
  /**
   * Tells the worker which file each handler kind was loaded from (see handlerFiles), so that of several
   * runs in flight it fails only those whose handler the stuck thread is in.
   */
  handlerFiles(files: ReadonlyMap<string, string>): void;
  /** Stops the heartbeat and the worker; safe to call twice. */
  stop(): Promise<void>;
}

export function startWatchdog(options: WatchdogOptions): Watchdog {
  const heartbeat = new Int32Array(new SharedArrayBuffer(8));
  const probe = new SharedArrayBuffer(4 + PROBE_BYTES);
  const hooks: WatchdogHooks = {
    probe: () => writeStack(probe, hooks.probe),
    exit: (code) => {
      // The worker's inspector session is still connected, and Node would print "Waiting for the debugger
      // to disconnect..." on stderr as the process ends; everything worth saying is written by now.
      try {
        closeSync(2);
      } catch {}
      process.exit(code);
    },
  };
  (globalThis as Record<symbol, unknown>)[HOOKS_KEY] = hooks;
  const beat = setInterval(() => Atomics.add(heartbeat, BEAT, 1), BEAT_MS);
  beat.unref();
  const workerData: WatchdogWorkerData = {
    heartbeat: heartbeat.buffer as SharedArrayBuffer,
    probe,
    databasePath: options.databasePath,
    shards: options.shards,
    warnAfterMs: options.warnAfterMs,
    limitMs: options.limitMs,
    logLevel: options.logLevel,
    token: options.token,
    handleSignals: options.handleSignals,
  };
  const worker = startWorker(workerData);
  worker.unref(); // never what keeps the process (or a test run) alive
  worker.on('error', (error) =>
    options.log.error({ err: error }, 'the watchdog thread failed; stalls go unseen'),
  );
  let stopped: Promise<void> | undefined;
  return {
    started: () => Atomics.store(heartbeat, STARTED, 1),
    handlerFiles: (files) => worker.postMessage({ handlerFiles: [...files] } satisfies WatchdogMessage),
    stop: () => {
      stopped ??= (async () => {
        clearInterval(beat);
        await worker.terminate();
        if ((globalThis as Record<symbol, unknown>)[HOOKS_KEY] === hooks) {
          delete (globalThis as Record<symbol, unknown>)[HOOKS_KEY];
        }
      })();
      return stopped;
    },
  };
}

/**
 * The worker is written in the same language as this file: .js once compiled; .ts under tsx, whose loader
 * a worker does not inherit, so it registers it first.
 */
function startWorker(workerData: WatchdogWorkerData): Worker {
  const extension = extname(fileURLToPath(import.meta.url));
  const file = new URL(`./worker${extension}`, import.meta.url);
  if (extension !== '.ts') return new Worker(file, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(file.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** The stack of whatever the main thread is running, as the probe's length-prefixed UTF-8 text. */
function writeStack(probe: SharedArrayBuffer, caller: () => void): void {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  Error.captureStackTrace(holder, caller); // from the caller's caller: the stuck code
  Error.stackTraceLimit = limit;
  const length = new Int32Array(probe, 0, 1);
  const { written } = new TextEncoder().encodeInto(holder.stack ?? '', new Uint8Array(probe, 4));
  Atomics.store(length, 0, written);
  Atomics.notify(length, 0);
}
