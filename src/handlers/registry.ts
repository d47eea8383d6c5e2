// The handler registry: loads every module in a folder that default-exports a handler and maps kinds to
// them. Built-in handlers come through the same loader as custom ones (src/handlers/builtin is just the
// first folder), so the custom-module door is exercised on every start. A broken module is skipped with its
// path and the reason; it never stops the bot. That includes a module whose import never finishes (a
// top-level await that never settles): each import is bounded by MODULE_IMPORT_TIMEOUT_MS.
// The compiled bot (node dist/main.js) imports .js modules as they are; the first .ts module makes it register
// tsx's loader (see loadTypeScript), so a bot with only .js modules never loads tsx.
import { readdirSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SlashCommandSubcommandBuilder } from '@discordjs/builders';
import type { Logger } from '../log.js';
import type { Handler } from './define.js';
import { shareBotPackages } from './module-hooks.js';

export const BUILTIN_HANDLERS_DIR = fileURLToPath(new URL('./builtin', import.meta.url));

/** Options every `/task create <kind>` subcommand has; a handler may not declare these. */
export const COMMON_CREATE_OPTIONS = [
  'name',
  'channel',
  'every',
  'at',
  'timezone',
  'cron',
  'count',
  'catchup',
  'timeout',
] as const;

/** How long one module's import may take before it is skipped as broken. */
export const MODULE_IMPORT_TIMEOUT_MS = 10_000;

/** Discord allows 25 options on a subcommand. */
const MAX_HANDLER_OPTIONS = 25 - COMMON_CREATE_OPTIONS.length;
const KIND_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
const MODULE_FILE = /\.(?:[cm]?js|[cm]?ts)$/;
const NOT_A_MODULE = /\.d\.[cm]?ts$|\.(?:test|spec)\.[cm]?[jt]s$/;
const TYPESCRIPT_FILE = /\.[cm]?ts$/;
/** This file is .ts under tsx and vitest, whose loaders already import TypeScript, and .js once compiled. */
const COMPILED = extname(fileURLToPath(import.meta.url)) !== '.ts';

/** Whether a file in a folder of modules is one to import: `.js`/`.ts` (and c/m variants), not types or tests. */
export function isModuleFile(fileName: string): boolean {
  return MODULE_FILE.test(fileName) && !NOT_A_MODULE.test(fileName);
}

export interface SkippedModule {
  path: string;
  reason: string;
}

/**
 * One bot's handlers: each registry is one bot's (assemble loads one per bot), so it also keeps each
 * handler's per-bot state, made by the handler's `createState` on first use.
 */
export class HandlerRegistry {
  readonly #handlers = new Map<string, Handler>();
  readonly #files = new Map<string, string>();
  readonly #states = new Map<string, { state: unknown } | { error: unknown }>();
  /** Modules that were found but not loaded, with why. */
  readonly skipped: SkippedModule[] = [];

  get(kind: string): Handler | undefined {
    return this.#handlers.get(kind);
  }

  /** Every handler, in the order they were loaded (built-ins first, then each folder by file name). */
  all(): Handler[] {
    return [...this.#handlers.values()];
  }

  /**
   * This bot's state for the handler of `kind`: what its `createState` returned, made once on first use
   * (undefined without one). Throws what `createState` threw, every time: its runs cannot go on without it.
   */
  stateOf(kind: string): unknown {
    let made = this.#states.get(kind);
    if (made === undefined) {
      const handler = this.#handlers.get(kind);
      try {
        made = { state: handler?.createState?.() };
      } catch (error) {
        made = { error };
      }
      this.#states.set(kind, made);
    }
    if ('error' in made) throw made.error;
    return made.state;
  }

  get kinds(): string[] {
    return [...this.#handlers.keys()];
  }

  /** kind → the module file it was loaded from (the watchdog matches them against a stuck stack). */
  get files(): ReadonlyMap<string, string> {
    return this.#files;
  }

  /**
   * Adds a handler after checking its shape; returns the reason it was refused, if it was. `file` is the
   * module it came from, when it came from one.
   */
  add(candidate: unknown, file?: string): string | undefined {
    const problem = shapeProblem(candidate);
    if (problem) return problem;
    const handler = candidate as Handler;
    if (this.#handlers.has(handler.kind)) return `a handler of kind "${handler.kind}" is already loaded`;
    this.#handlers.set(handler.kind, handler);
    if (file !== undefined) this.#files.set(handler.kind, file);
    return undefined;
  }
}

export interface LoadHandlersOptions {
  /** Folders to load, in order; a later module of an existing kind is skipped as a duplicate. */
  dirs: readonly string[];
  log: Logger;
  /** How long one module's import may take; default MODULE_IMPORT_TIMEOUT_MS (tests shorten it). */
  importTimeoutMs?: number;
}

/** Loads the built-in handlers, then every folder in `dirs`. */
export async function loadHandlers(options: LoadHandlersOptions): Promise<HandlerRegistry> {
  const registry = new HandlerRegistry();
  const importTimeoutMs = options.importTimeoutMs ?? MODULE_IMPORT_TIMEOUT_MS;
  // Before any custom module is imported: its 'metronome' and 'zod' are then the bot's, wherever it lives.
  if (options.dirs.length > 0) shareBotPackages();
  for (const dir of [BUILTIN_HANDLERS_DIR, ...options.dirs]) {
    await loadFolder(registry, resolve(dir), options.log, importTimeoutMs);
  }
  options.log.info({ kinds: registry.kinds, skipped: registry.skipped.length }, 'handlers loaded');
  return registry;
}

async function loadFolder(
  registry: HandlerRegistry,
  dir: string,
  log: Logger,
  importTimeoutMs: number,
): Promise<void> {
  let files: string[];
  try {
    files = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile() && isModuleFile(entry.name))
      .map((entry) => join(dir, entry.name))
      .sort();
  } catch (error) {
    log.error({ dir, err: error }, 'cannot read the handlers folder; no handlers loaded from it');
    return;
  }
  const typeScriptProblem = files.some((path) => TYPESCRIPT_FILE.test(path))
    ? await loadTypeScript()
    : undefined;
  // Imported side by side, so several stuck modules cost one bound, not one each; added in file order, so
  // which of two modules of one kind wins does not depend on which import finished first.
  const imports = await Promise.all(
    files.map((path) =>
      typeScriptProblem !== undefined && TYPESCRIPT_FILE.test(path)
        ? { problem: typeScriptProblem }
        : importModule(path, importTimeoutMs),
    ),
  );
  for (const [index, path] of files.entries()) {
    const imported = imports[index]!;
    const reason = 'problem' in imported ? imported.problem : addModule(registry, imported.module, path);
    if (reason) {
      registry.skipped.push({ path, reason });
      log.error({ path, reason }, 'handler module skipped');
    }
  }
}

type ImportedModule = { module: { default?: unknown } } | { problem: string };

let typeScriptLoaded: Promise<string | undefined> | undefined;

/**
 * Makes `import()` of a .ts file work in the compiled bot, once per process; resolves with why it cannot.
 * tsx's process-wide register(), not its scoped tsImport(): tsImport re-loads every file outside
 * node_modules that a module imports under a query of its own, so a handler's `import … from 'metronome'`
 * would get a second copy of the package (its TransientError no longer the runtime's, its stack frames no
 * longer matching the watchdog's file names).
 */
function loadTypeScript(): Promise<string | undefined> {
  if (!COMPILED) return Promise.resolve(undefined);
  // Both of tsx's loaders, as its CLI registers them: a .ts file in a folder without "type": "module" is
  // CommonJS to node, and goes through require.
  typeScriptLoaded ??= Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]).then(
    ([esm, cjs]) => {
      esm.register();
      cjs.register();
      return undefined;
    },
    (error: unknown) =>
      `it is TypeScript, and tsx (which compiles it on load) could not be loaded: ${error instanceof Error ? error.message : String(error)}; compile it to .js or reinstall with npm ci`,
  );
  return typeScriptLoaded;
}

async function importModule(path: string, timeoutMs: number): Promise<ImportedModule> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Deliberately not unref'd: with nothing else alive, Node would end the process with exit code 13
  // ("unsettled top-level await") and print nothing, before the bound could name the module.
  const timedOut = new Promise<ImportedModule>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          problem: `its import did not finish within ${formatSeconds(timeoutMs)}; a top-level await that never settles?`,
        }),
      timeoutMs,
    );
  });
  const imported = import(pathToFileURL(path).href).then(
    (module: { default?: unknown }): ImportedModule => ({ module }),
    (error: unknown): ImportedModule => ({
      problem: `it threw while loading: ${error instanceof Error ? error.message : String(error)}`,
    }),
  );
  try {
    return await Promise.race([imported, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1_000).toFixed(3))} s`;
}

function addModule(
  registry: HandlerRegistry,
  module: { default?: unknown },
  file: string,
): string | undefined {
  const exported = commonJsDefault(module.default);
  if (exported === undefined) return 'it has no default export (export default defineHandler({...}))';
  return registry.add(exported, file);
}

/**
 * A .ts module in a folder without "type": "module" is CommonJS to node, so tsx compiles its
 * `export default` to `exports.default`, and import() hands back the whole exports object as the default.
 */
function commonJsDefault(exported: unknown): unknown {
  const compiled = exported as { __esModule?: unknown; default?: unknown } | null | undefined;
  return compiled?.__esModule === true ? compiled.default : exported;
}

/** Why a value is not a usable handler, in words for the log; undefined if it is one. */
function shapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'its default export is not a handler object';
  const handler = value as Partial<Record<keyof Handler, unknown>>;
  if (typeof handler.kind !== 'string' || !KIND_PATTERN.test(handler.kind)) {
    return 'kind must be 1 to 32 lowercase letters, digits, "-" or "_", starting with a letter';
  }
  if (typeof handler.description !== 'string' || handler.description.length < 1) {
    return 'description must be a non-empty string';
  }
  if (handler.description.length > 100) return 'description must be at most 100 characters';
  const options = handler.options as { safeParse?: unknown } | undefined;
  if (typeof options?.safeParse !== 'function') return 'options must be a zod schema';
  if (typeof handler.run !== 'function') return 'run must be a function';
  for (const hook of ['slashOptions', 'createState', 'setup', 'status', 'channelPermissions'] as const) {
    if (handler[hook] !== undefined && typeof handler[hook] !== 'function')
      return `${hook} must be a function`;
  }
  return slashOptionsProblem(handler as Handler);
}

/** Builds the kind's subcommand once, so a module whose options Discord would refuse never loads. */
function slashOptionsProblem(handler: Handler): string | undefined {
  try {
    const builder = new SlashCommandSubcommandBuilder()
      .setName(handler.kind)
      .setDescription(handler.description);
    const options = (handler.slashOptions?.(builder) ?? builder).toJSON().options ?? [];
    const taken = options.map((option) => option.name).filter((name) => isCommonOption(name));
    if (taken.length > 0) return `slash option "${taken[0]}" is reserved for every task`;
    if (options.length > MAX_HANDLER_OPTIONS) {
      return `it declares ${options.length} slash options; at most ${MAX_HANDLER_OPTIONS} fit beside the common ones`;
    }
    return undefined;
  } catch (error) {
    return `its slash options are invalid: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function isCommonOption(name: string): boolean {
  return (COMMON_CREATE_OPTIONS as readonly string[]).includes(name);
}
