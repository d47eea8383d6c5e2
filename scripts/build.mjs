// `npm run build`: compiles src/ to dist/ with tsc (tsconfig.build.json). Plain JavaScript, so that `npm start`
// (scripts/start.mjs) can build a fresh clone with nothing but node and the installed TypeScript.
// The build goes to dist.next/ and replaces dist/ only once it succeeded: a failed build leaves the last good
// one, and a source file deleted since leaves no stale module behind for the folder scanners (built-in
// handlers, /task subcommands) to load.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST = join(ROOT, 'dist');
const NEXT = join(ROOT, 'dist.next');
const OLD = join(ROOT, 'dist.old');
/** Holds the time the build that made dist/ started; sources changed after it make dist/ stale. */
const STAMP = '.build-stamp';
/** What the output depends on: the sources and the compiler settings. */
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json'];

/** The newest change under a path; folders count, since deleting or renaming a file changes only its folder. */
function newestChangeMs(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestChangeMs(join(path, entry)));
  return newest;
}

/** Why dist/ needs building, or undefined when it is up to date. */
export function staleReason() {
  const stamp = join(DIST, STAMP);
  if (!existsSync(stamp))
    return existsSync(DIST) ? 'dist/ was not made by npm run build' : 'dist/ is missing';
  const builtAt = Number(readFileSync(stamp, 'utf8'));
  const changed = INPUTS.find((input) => newestChangeMs(join(ROOT, input)) > builtAt);
  return changed === undefined ? undefined : `${changed} changed since the last build`;
}

/** Compiles src/ into a fresh dist/; returns a sentence saying why it could not, or undefined. */
export function build() {
  // Taken before tsc reads anything, so a source saved during the build makes the next start build again.
  const startedAt = Date.now();
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    return 'TypeScript is not installed, so dist/ cannot be built: run npm ci (with the dev dependencies) first';
  }
  rmSync(NEXT, { recursive: true, force: true });
  const started = performance.now();
  // tsc's errors go to stderr: stdout carries only the bot's JSON log lines.
  const result = spawnSync(
    process.execPath,
    [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', NEXT],
    { cwd: ROOT, stdio: ['ignore', 2, 2] },
  );
  if (result.status !== 0) {
    rmSync(NEXT, { recursive: true, force: true });
    return `tsc could not compile src/ (exit code ${result.status ?? result.signal}); the errors are above`;
  }
  writeFileSync(join(NEXT, STAMP), `${startedAt}\n`);
  // Swapped by renames, so a bot starting meanwhile finds the old build or the new one, never half of one.
  rmSync(OLD, { recursive: true, force: true });
  if (existsSync(DIST)) renameSync(DIST, OLD);
  renameSync(NEXT, DIST);
  rmSync(OLD, { recursive: true, force: true });
  process.stderr.write(`built dist/ in ${((performance.now() - started) / 1_000).toFixed(1)} s\n`);
  return undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problem = build();
  if (problem !== undefined) {
    process.stderr.write(`${problem}\n`);
    process.exit(1);
  }
}
