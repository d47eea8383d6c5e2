// `npm run bench -- <name> [args…]` runs bench/<name>.ts. Each benchmark prints its own figures.
// The benches in COMPILED measure what production runs, the whole process included: they are compiled with
// src/ (scripts/build.mjs --bench, only when stale) and run by plain node, with no tsx loader in the process.
// The others run here, under tsx.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const COMPILED = new Set(['runtime']);

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3))
  .sort();
const [name, ...rest] = process.argv.slice(2);

if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <${available.join('|')}> [args…]`);
  process.exit(name ? 1 : 0);
}

if (COMPILED.has(name)) {
  const built = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), '--bench', '--if-stale'], {
    stdio: 'inherit',
  });
  if (built.status !== 0) process.exit(1);
  // --expose-gc for the steady-state figures; execArgv (tsx's loader) is deliberately not passed on.
  const bench = spawn(
    process.execPath,
    ['--expose-gc', join(root, '.bench-build/bench', `${name}.js`), ...rest],
    {
      stdio: 'inherit',
    },
  );
  // Ctrl-C reaches both through the terminal; the bench's own exit code is ours.
  process.on('SIGINT', () => {});
  bench.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  process.argv = [process.argv[0]!, join(here, `${name}.ts`), ...rest];
  await import(pathToFileURL(join(here, `${name}.ts`)).href);
}
