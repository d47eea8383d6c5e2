// For the tests that run the compiled bot or kit: builds dist/ when it is missing or older than the sources
// (npm start's rule; scripts/build.mjs takes a lock, so test files starting builds at once wait for one).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Generous: tsc on a loaded machine. For beforeAll's timeout. */
export const BUILD_MS = 300_000;

/** Resolves once dist/ is current; rejects with tsc's output if the build failed. */
export async function buildDistIfStale(): Promise<void> {
  const build = spawn(process.execPath, [join(REPO, 'scripts/build.mjs'), '--if-stale'], { cwd: REPO });
  let errors = '';
  build.stderr.on('data', (chunk) => {
    errors += chunk;
  });
  const code = await new Promise<number | null>((resolve) => build.on('exit', resolve));
  if (code !== 0) throw new Error(`the build failed:\n${errors}`);
}
