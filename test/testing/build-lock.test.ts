// scripts/build.mjs builds under <out>.lock: the build is two tsc runs into <out>.next now (the emulator for
// metronome/testing, then src/), and the test files that run the compiled bot each start a build at once; two
// builds sharing <out>.next left a dist/ without its emulator. Here on a small project of its own.
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** Several runs of tsc on a loaded machine. */
const BUILD_MS = 120_000;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A project with a part compiled first into dist/emulator, as the checkout's. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-build-lock-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(REPO, 'scripts/build.mjs'), join(dir, 'scripts/build.mjs'));
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const options = { target: 'ES2022', module: 'NodeNext', strict: true, types: [], skipLibCheck: true };
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { ...options, noEmit: true } }),
  );
  for (const [name, root] of [
    ['tsconfig.build.json', 'src'],
    ['tsconfig.emulator.json', 'emulator'],
  ] as const) {
    writeFileSync(
      join(dir, name),
      JSON.stringify({
        extends: './tsconfig.json',
        compilerOptions: { noEmit: false, rootDir: root, declaration: true },
        include: [root],
      }),
    );
  }
  for (const folder of ['src', 'emulator']) {
    mkdirSync(join(dir, folder));
    writeFileSync(join(dir, folder, 'index.ts'), `export const where: string = '${folder}';\n`);
  }
  return dir;
}

function runBuild(dir: string, ...args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [join(dir, 'scripts/build.mjs'), ...args], { cwd: dir });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

it(
  'two builds started at once each leave a whole dist/, the second waiting for the first',
  async () => {
    const dir = project();
    const [first, second] = await Promise.all([runBuild(dir, '--if-stale'), runBuild(dir, '--if-stale')]);
    expect([first.code, second.code]).toEqual([0, 0]);
    // One built; the other found it current once the lock was its own.
    expect([first.stderr, second.stderr].filter((text) => text.includes('built dist/'))).toHaveLength(1);
    expect(existsSync(join(dir, 'dist/index.js'))).toBe(true);
    expect(existsSync(join(dir, 'dist/emulator/index.js'))).toBe(true);
    expect(existsSync(join(dir, 'dist.lock'))).toBe(false);
  },
  BUILD_MS,
);

it(
  'takes over a lock left by a build that died',
  async () => {
    const dir = project();
    // A process that has exited: its pid is free.
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => gone.on('exit', resolve));
    mkdirSync(join(dir, 'dist.lock'));
    writeFileSync(join(dir, 'dist.lock/pid'), `${gone.pid}\n`);
    const built = await runBuild(dir);
    expect(built.code).toBe(0);
    expect(existsSync(join(dir, 'dist/emulator/index.js'))).toBe(true);
    expect(existsSync(join(dir, 'dist.lock'))).toBe(false);
  },
  BUILD_MS,
);
