// metronome/testing is its own entry: the bot never loads the emulator or vitest. Nothing in src/ outside
// src/testing imports them, the kit reaches the emulator only through #emulator, and package.json maps both.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(REPO, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Every module specifier a file imports or re-exports, static or dynamic. */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((match) => match[1]!);
}

it('nothing in src/ outside src/testing imports the kit, the emulator or vitest', () => {
  const offending = sourceFiles(SRC)
    .filter((file) => !relative(SRC, file).startsWith('testing/'))
    .flatMap((file) =>
      specifiers(file)
        .filter(
          (s) =>
            s === '#emulator' ||
            /emulator\//.test(s) ||
            /(^|\/)testing(\/|$)/.test(s) ||
            s.startsWith('vitest'),
        )
        .map((s) => `${relative(REPO, file)} imports ${s}`),
    );
  expect(offending).toEqual([]);
});

it('the kit reaches the emulator only through #emulator, which package.json maps to source and build', () => {
  const kit = sourceFiles(join(SRC, 'testing'));
  expect(kit.flatMap(specifiers).filter((s) => /emulator/.test(s))).toEqual(
    expect.arrayContaining(['#emulator']),
  );
  expect(kit.flatMap(specifiers).filter((s) => /emulator/.test(s) && s !== '#emulator')).toEqual([]);
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  expect(pkg.imports['#emulator']).toEqual({
    development: './emulator/index.ts',
    default: './dist/emulator/index.js',
  });
  expect(pkg.exports['./testing']).toEqual({
    development: './src/testing/index.ts',
    types: './dist/testing/index.d.ts',
    default: './dist/testing/index.js',
  });
});
