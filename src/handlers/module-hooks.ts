// Handlers anywhere: a module in a HANDLERS_DIR outside the checkout, with no node_modules of its own, gets
// the bot's own copies of 'metronome' and 'zod' (one TransientError, one timer queue, one zod) through a node
// module resolve hook (Node ≥ 20.6). Any other import resolves from the module's own folder as usual, so a
// package its author installed beside it is found there.
import { register } from 'node:module';

/**
 * The resolve hook, run by node on its loader thread. JavaScript in a string so that it loads the same way
 * under tsx, vitest and the compiled bot (the loader thread has no TypeScript of its own). Two rules:
 * - An importer outside any node_modules (a handler, or the bot itself) resolves metronome and zod as if it
 *   were this file; a package in node_modules keeps its own copy and falls back to the bot's only if it has
 *   none (a peer dependency).
 * - A .js/.ts file outside node_modules written with import/export is an ES module even in a folder with no
 *   package.json "type": "module" (where node and tsx would make it CommonJS, whose require() never reaches
 *   this hook and would find no metronome). A module.exports handler there stays CommonJS.
 */
const RESOLVE_HOOK = `
import { readFileSync } from 'node:fs';
let botModuleUrl;
let fromSource;
export function initialize(data) { ({ botModuleUrl, fromSource } = data); }
const SHARED = /^(?:metronome|zod)(?:\\/|$)/;
const ESM_SYNTAX = /^[ \\t]*(?:import[ \\t]*[\\w{*'"]|import\\.meta\\b|export[ \\t{*])/m;
const inPackages = (url) => url.includes('/node_modules/');
export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL;
  const resolved = await resolveShared(specifier, context, nextResolve, parent);
  const { url, format } = resolved;
  if (format != null && !format.startsWith('commonjs')) return resolved;
  if (!url.startsWith('file:') || inPackages(url)) return resolved;
  const file = new URL(url);
  if (!/\\.[jt]s$/.test(file.pathname)) return resolved;
  let source = '';
  try { source = readFileSync(file, 'utf8'); } catch {}
  return ESM_SYNTAX.test(source) ? { ...resolved, format: 'module' } : resolved;
}
async function resolveShared(specifier, context, nextResolve, parent) {
  if (!SHARED.test(specifier) || parent === undefined || !parent.startsWith('file:')) {
    return nextResolve(specifier, context);
  }
  // A bot running from src/ (tsx) is the development build of metronome, even if node was not told so.
  const conditions = fromSource && specifier.startsWith('metronome') ? [...context.conditions, 'development'] : context.conditions;
  const asTheBot = () => nextResolve(specifier, { ...context, conditions, parentURL: botModuleUrl });
  if (!inPackages(parent)) return asTheBot();
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND') return asTheBot();
    throw error;
  }
}
`;

let registered = false;

/**
 * Registers the hook once per process, before the first handler module is imported. Later-registered hooks
 * (tsx's, for .ts modules in the compiled bot) run first and reach this one through nextResolve.
 */
export function shareBotPackages(): void {
  if (registered) return;
  registered = true;
  register(`data:text/javascript,${encodeURIComponent(RESOLVE_HOOK)}`, {
    data: { botModuleUrl: import.meta.url, fromSource: import.meta.url.endsWith('.ts') },
  });
}
