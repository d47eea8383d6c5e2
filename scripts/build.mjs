// `npm run build`: compiles src/ to dist/ with tsc (tsconfig.build.json). Plain JavaScript, so that `npm start`
// (scripts/start.mjs) can build a fresh clone with nothing but node and the installed TypeScript.
// A build goes to <out>.next/ and replaces <out>/ only once it succeeded: a failed build leaves the last good
// one, and a source file deleted since leaves no stale module behind for the folder scanners (built-in
// handlers, /task subcommands) to load.
// `--bench` builds what `npm run bench` runs compiled instead (bench/ and src/, tsconfig.bench.json).
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Holds the time the build that made the folder started; inputs changed after it make the folder stale. */
const STAMP = '.build-stamp';

/** What `npm run build` and `npm start` make: the bot, as `node dist/main.js` runs it. */
export const BOT = {
  out: 'dist',
  project: 'tsconfig.build.json',
  // Compiled first, into dist/emulator: metronome/testing runs the emulator (package.json's #emulator import),
  // and tsconfig.build.json types it from there. The bot itself never loads it.
  parts: [{ project: 'tsconfig.emulator.json', out: 'emulator' }],
  inputs: ['src', 'emulator', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.emulator.json'],
  // dist/db sits as deep as src/db, so ../../migrations is the checkout's migrations/ from both.
  links: [],
};

/** What `npm run bench` runs for a bench measured as production runs: bench/ and src/ under plain node. */
export const BENCH = {
  out: '.bench-build',
  project: 'tsconfig.bench.json',
  inputs: ['src', 'bench', 'emulator', 'tsconfig.json', 'tsconfig.bench.json'],
  // Compiled to .bench-build/src/db, the migrations runner looks for .bench-build/migrations.
  links: ['migrations'],
};

/** The newest change under a path; folders count, since deleting or renaming a file changes only its folder. */
function newestChangeMs(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestChangeMs(join(path, entry)));
  return newest;
}

/** Why the target's folder needs building, or undefined when it is up to date. */
export function staleReason(target = BOT) {
  const out = join(ROOT, target.out);
  const stamp = join(out, STAMP);
  if (!existsSync(stamp)) {
    return existsSync(out) ? `${target.out}/ was not made by a build` : `${target.out}/ is missing`;
  }
  const builtAt = Number(readFileSync(stamp, 'utf8'));
  // An input a project does not have (no emulator/) cannot have changed.
  const changed = target.inputs.find(
    (input) => existsSync(join(ROOT, input)) && newestChangeMs(join(ROOT, input)) > builtAt,
  );
  return changed === undefined ? undefined : `${changed} changed since the last build`;
}

/** tsc's script, or undefined when TypeScript (a dev dependency) is not installed. */
export function typeScriptCompiler() {
  try {
    return createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
}

/** Compiles the target into a fresh folder; returns a sentence saying why it could not, or undefined. */
export function build(target = BOT) {
  return whileLocked(target, () => buildNow(target));
}

function buildNow(target) {
  // Taken before tsc reads anything, so a source saved during the build makes the next start build again.
  const startedAt = Date.now();
  const tsc = typeScriptCompiler();
  if (tsc === undefined) {
    return `TypeScript is not installed, so ${target.out}/ cannot be built: run npm ci (with the dev dependencies) first`;
  }
  const out = join(ROOT, target.out);
  const next = `${out}.next`;
  const old = `${out}.old`;
  rmSync(next, { recursive: true, force: true });
  const started = performance.now();
  // A part a project does not have (the build script's own test projects) is left out.
  const parts = (target.parts ?? []).filter((part) => existsSync(join(ROOT, part.project)));
  for (const { project, out: into } of [...parts, { project: target.project, out: '.' }]) {
    const problem = compile(tsc, project, join(next, into));
    if (problem !== undefined) {
      rmSync(next, { recursive: true, force: true });
      return problem;
    }
  }
  for (const link of target.links) symlinkSync(join(ROOT, link), join(next, link), 'dir');
  writeFileSync(join(next, STAMP), `${startedAt}\n`);
  // Swapped by renames, so a bot starting meanwhile finds the old build or the new one, never half of one.
  rmSync(old, { recursive: true, force: true });
  if (existsSync(out)) renameSync(out, old);
  renameSync(next, out);
  rmSync(old, { recursive: true, force: true });
  process.stderr.write(`built ${target.out}/ in ${((performance.now() - started) / 1_000).toFixed(1)} s\n`);
  return undefined;
}

/** Runs tsc on one project into `outDir`; returns a sentence saying why it failed, or undefined. */
function compile(tsc, project, outDir) {
  // tsc's errors go to stderr: stdout carries only the bot's JSON log lines.
  const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, project), '--outDir', outDir], {
    cwd: ROOT,
    stdio: ['ignore', 2, 2],
  });
  if (result.status === 0) return undefined;
  return `tsc could not compile ${project} (exit code ${result.status ?? result.signal}); the errors are above`;
}

/**
 * Builds when the target is stale (saying why on stderr); returns a sentence saying why it could not, or
 * undefined. `stale` is staleReason(target) when the caller has already read it.
 */
export function buildIfStale(target = BOT, stale = staleReason(target)) {
  if (stale === undefined) return undefined;
  process.stderr.write(`${stale}: building it…\n`);
  // Read again once the lock is ours: a build that held it may have just made the folder current.
  return whileLocked(target, () => (staleReason(target) === undefined ? undefined : buildNow(target)));
}

/** How long a build waits for another one (tests start several at once) before giving up. */
const LOCK_WAIT_MS = 15 * 60_000;

/**
 * Runs `work` while holding <out>.lock, so two builds never share <out>.next (one would delete what the other
 * is compiling into it). A lock whose process is gone is taken over.
 */
function whileLocked(target, work) {
  const lock = join(ROOT, `${target.out}.lock`);
  const giveUpAt = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    if (lockHolderGone(lock)) {
      rmSync(lock, { recursive: true, force: true });
    } else if (Date.now() > giveUpAt) {
      return `another build of ${target.out}/ has held ${lock} for ${LOCK_WAIT_MS / 60_000} minutes; remove it if no build is running`;
    } else {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    writeFileSync(join(lock, 'pid'), `${process.pid}\n`);
    return work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function lockHolderGone(lock) {
  let pid;
  try {
    pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
  } catch {
    // Taken but its pid not written yet, or left by a build killed in between: gone once it is old.
    try {
      return Date.now() - statSync(lock).mtimeMs > 60_000;
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return error.code === 'ESRCH';
  }
}

// `node scripts/build.mjs [--if-stale] [--bench]`: always builds, or only when stale (as npm start does).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = process.argv.includes('--bench') ? BENCH : BOT;
  const problem = process.argv.includes('--if-stale') ? buildIfStale(target) : build(target);
  if (problem !== undefined) {
    process.stderr.write(`${problem}\n`);
    process.exit(1);
  }
}
