// `npm run check`'s handler half: type-checks the TypeScript modules in HANDLERS_DIR (from the environment or
// .env; else ./handlers if there is one) with the project's own compiler options, as the bot will load them:
// 'metronome' and 'zod' are the bot's (wherever the folder is), every module is an ES module, other imports
// come from the folder's own node_modules. Prints tsc's errors (file:line) and exits 1 on any; a folder with
// no TypeScript modules passes quietly. `node scripts/check-handlers.mjs DIR` checks DIR instead.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TYPESCRIPT = /\.[cm]?ts$/;
const NOT_CHECKED = /\.d\.[cm]?ts$/;

/** The folder to check and what named it, or undefined when there is none. */
function handlersFolder() {
  const argument = process.argv[2];
  if (argument !== undefined) return { dir: resolve(argument), from: argument };
  const fromFile = existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')).HANDLERS_DIR : undefined;
  const named = (process.env.HANDLERS_DIR ?? fromFile)?.trim();
  if (named) return { dir: resolve(named), from: 'HANDLERS_DIR' };
  return existsSync('handlers') ? { dir: resolve('handlers'), from: 'handlers/' } : undefined;
}

/** Every TypeScript file under dir, tests included, node_modules and dot folders left out. */
function typeScriptFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      return entry.name === 'node_modules' || entry.name.startsWith('.') ? [] : typeScriptFiles(path);
    }
    return entry.isFile() && TYPESCRIPT.test(entry.name) && !NOT_CHECKED.test(entry.name) ? [path] : [];
  });
}

/** `metronome`, `metronome/loop`, …: each entry of package.json's exports, as the bot runs from src/; zod, vitest. */
function botPaths() {
  const { exports } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const paths = {};
  for (const [entry, targets] of Object.entries(exports)) {
    paths[entry === '.' ? 'metronome' : `metronome/${entry.slice(2)}`] = [join(ROOT, targets.development)];
  }
  // zod as the bot shares it at run time; vitest as a handler's test runs on the bot's (metronome/testing).
  for (const name of ['zod', 'vitest']) {
    paths[name] = [join(ROOT, 'node_modules', name)];
    paths[`${name}/*`] = [join(ROOT, 'node_modules', name, '*')];
  }
  return paths;
}

const folder = handlersFolder();
if (folder === undefined) process.exit(0);
if (!existsSync(folder.dir) || !statSync(folder.dir).isDirectory()) {
  process.stderr.write(`${folder.from} names ${folder.dir}, and there is no such folder.\n`);
  process.exit(1);
}
const files = typeScriptFiles(folder.dir);
if (files.length === 0) process.exit(0);

/** Runs tsc on the files; resolves with its output, file names made relative to here (file:line:column). */
function typeCheck(files, work) {
  const project = join(work, 'tsconfig.json');
  writeFileSync(
    project,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: {
        noEmit: true,
        // The bot loads every handler module as an ES module (its resolve hook; tsx for .ts), whatever the
        // folder's package.json says, and tsx takes relative imports with or without an extension.
        module: 'preserve',
        moduleResolution: 'bundler',
        paths: botPaths(),
        typeRoots: [join(ROOT, 'node_modules/@types')],
      },
      include: [],
      files,
    }),
  );
  const tsc = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project, '--pretty', 'false'],
    { encoding: 'utf8' },
  );
  if (tsc.status === 0) return undefined;
  // tsc names files relative to here, climbing out with ../../ for a folder elsewhere: that one is named in full.
  return `${tsc.stdout}${tsc.stderr}`
    .trimEnd()
    .replace(/^(\S[^(\n]*)\((\d+),(\d+)\)/gm, (_, file, line, column) => {
      const path = resolve(file);
      const fromHere = relative(process.cwd(), path);
      return `${fromHere.startsWith('..') ? path : fromHere}:${line}:${column}`;
    });
}

const work = mkdtempSync(join(tmpdir(), 'metronome-check-handlers-'));
let errors;
try {
  errors = typeCheck(files, work);
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (errors !== undefined) {
  const count = `${files.length} TypeScript file${files.length === 1 ? '' : 's'}`;
  process.stderr.write(
    `${errors}\n${folder.from}: the handler modules above do not type-check (${count} in ${folder.dir}).\n`,
  );
  process.exit(1);
}
