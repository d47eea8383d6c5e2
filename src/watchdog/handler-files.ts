// Which file each handler kind was loaded from, so the watchdog can tell from the stuck thread's stack which
// of several runs in flight is the one blocking the bot.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILTIN_HANDLERS_DIR, type HandlerRegistry, isModuleFile } from '../handlers/registry.js';

/**
 * kind → module file, for the modules the registry loaded from `dirs` (built-ins first). Importing them
 * again only reads Node's module cache: a loaded module is never evaluated twice, and skipped ones (whose
 * import may never finish) are left alone.
 */
export async function handlerFiles(
  registry: HandlerRegistry,
  dirs: readonly string[],
): Promise<Map<string, string>> {
  const skipped = new Set(registry.skipped.map((module) => module.path));
  const files = new Map<string, string>();
  for (const dir of [BUILTIN_HANDLERS_DIR, ...dirs].map((folder) => resolve(folder))) {
    let names: string[];
    try {
      names = readdirSync(dir).filter(isModuleFile).sort();
    } catch {
      continue; // the registry has already said why
    }
    for (const path of names.map((name) => join(dir, name)).filter((path) => !skipped.has(path))) {
      const module = (await import(pathToFileURL(path).href)) as { default?: { kind?: unknown } };
      const kind = module.default?.kind;
      if (typeof kind === 'string' && registry.get(kind) === module.default && !files.has(kind)) {
        files.set(kind, path);
      }
    }
  }
  return files;
}

/**
 * The runs whose handler module is on the stuck thread's stack; all of them when none is (the block is in
 * code the stack does not tie to a handler) or the stack is unknown.
 */
export function runsOnStack<Run extends { kind: string }>(
  runs: readonly Run[],
  stack: readonly string[] | undefined,
  files: ReadonlyMap<string, string>,
): { runs: Run[]; certain: boolean } {
  if (stack === undefined) return { runs: [...runs], certain: false };
  const onStack = runs.filter((run) => {
    const file = files.get(run.kind);
    if (file === undefined) return false;
    const url = pathToFileURL(file).href;
    // Frames name the file as a path under tsx and as a file: URL under plain node, in parentheses after a
    // function name or alone for an anonymous function.
    return stack.some((frame) =>
      [file, url].some((name) => frame.includes(`(${name}:`) || frame.startsWith(`${name}:`)),
    );
  });
  return onStack.length > 0 ? { runs: onStack, certain: true } : { runs: [...runs], certain: false };
}
