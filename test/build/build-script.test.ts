// scripts/build.mjs (npm run build, and npm start's build-if-stale) on a small project of its own: a copy of
// the script beside two source files, with this checkout's TypeScript.
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** Two or three runs of tsc on two files, on a loaded machine. */
const BUILD_MS = 120_000;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function project(options: { typescript: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-build-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(REPO, 'scripts/build.mjs'), join(dir, 'scripts/build.mjs'));
  if (options.typescript) symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        strict: true,
        types: [],
        skipLibCheck: true,
        noEmit: true,
      },
    }),
  );
  writeFileSync(
    join(dir, 'tsconfig.build.json'),
    JSON.stringify({
      extends: './tsconfig.json',
      compilerOptions: { noEmit: false, rootDir: 'src', outDir: 'dist', declaration: true },
      include: ['src'],
    }),
  );
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src/a.ts'), "export const a: string = 'first';\n");
  writeFileSync(join(dir, 'src/b.ts'), 'export const b = 2;\n');
  return dir;
}

async function runBuild(dir: string, ...args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [join(dir, 'scripts/build.mjs'), ...args], { cwd: dir });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stderr };
}

it(
  'builds a missing dist/ with declarations, then leaves it alone while nothing changed',
  async () => {
    const dir = project({ typescript: true });
    const first = await runBuild(dir, '--if-stale');
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/^dist\/ is missing: building it…\nbuilt dist\/ in \d+\.\d s\n$/);
    expect(readFileSync(join(dir, 'dist/a.js'), 'utf8')).toContain("export const a = 'first';");
    expect(existsSync(join(dir, 'dist/a.d.ts'))).toBe(true);
    expect(await runBuild(dir, '--if-stale')).toEqual({ code: 0, stderr: '' });
  },
  BUILD_MS,
);

it(
  'rebuilds after a source file is deleted, and its module leaves dist/ with it',
  async () => {
    const dir = project({ typescript: true });
    expect((await runBuild(dir)).code).toBe(0);
    expect(existsSync(join(dir, 'dist/b.js'))).toBe(true);
    rmSync(join(dir, 'src/b.ts'));
    const rebuilt = await runBuild(dir, '--if-stale');
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stderr).toMatch(/^src changed since the last build: building it…\n/);
    expect(existsSync(join(dir, 'dist/b.js'))).toBe(false);
    expect(existsSync(join(dir, 'dist/a.js'))).toBe(true);
  },
  BUILD_MS,
);

it(
  'a build that fails says so, exits 1 and keeps the last good dist/',
  async () => {
    const dir = project({ typescript: true });
    expect((await runBuild(dir)).code).toBe(0);
    writeFileSync(join(dir, 'src/a.ts'), 'export const a: string = 1;\n');
    const failed = await runBuild(dir, '--if-stale');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("error TS2322: Type 'number' is not assignable to type 'string'.");
    expect(failed.stderr).toMatch(
      /tsc could not compile tsconfig\.build\.json \(exit code 2\); the errors are above\n$/,
    );
    expect(readFileSync(join(dir, 'dist/a.js'), 'utf8')).toContain("export const a = 'first';");
    expect(existsSync(join(dir, 'dist.next'))).toBe(false);
    // Still stale: the next start tries again instead of running the old build as if it were current.
    expect((await runBuild(dir, '--if-stale')).code).toBe(1);
  },
  BUILD_MS,
);

it(
  'without TypeScript installed it says what to run, in one line',
  async () => {
    const dir = project({ typescript: false });
    expect(await runBuild(dir, '--if-stale')).toEqual({
      code: 1,
      stderr:
        'dist/ is missing: building it…\n' +
        'TypeScript is not installed, so dist/ cannot be built: run npm ci (with the dev dependencies) first\n',
    });
  },
  BUILD_MS,
);

it('npm start without TypeScript runs the dist/ it was given, saying it may be out of date', async () => {
  const dir = project({ typescript: false });
  copyFileSync(join(REPO, 'scripts/start.mjs'), join(dir, 'scripts/start.mjs'));
  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'dist/main.js'), "console.log('the build there is ran');\n");
  const child = spawn(process.execPath, [join(dir, 'scripts/start.mjs')], { cwd: dir });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0);
  expect(stderr).toBe(
    'dist/ was not made by a build, and TypeScript is not installed to rebuild it: starting the existing build as it is\n',
  );
  expect(stdout).toBe('the build there is ran\n');
});
