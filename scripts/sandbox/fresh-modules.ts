// Live reload's half that node needs: ES modules cannot be unloaded, so after an edit every module under the
// handlers folder is imported again under a new URL (`?sandbox-version=N`), its helpers included, while
// metronome, zod and node_modules keep their one copy. A resolve hook on node's loader thread adds the
// query; the version is a shared counter, so a bump is seen by the very next import, with no message race.
import { realpathSync } from 'node:fs';
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const FRESH_HOOK = `
let folderUrl;
let version;
export function initialize(data) {
  folderUrl = data.folderUrl;
  version = new Int32Array(data.version);
}
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  const current = Atomics.load(version, 0);
  if (current === 0 || !resolved.url.startsWith(folderUrl) || resolved.url.includes('/node_modules/')) {
    return resolved;
  }
  const url = new URL(resolved.url);
  url.searchParams.set('sandbox-version', String(current));
  return { ...resolved, url: url.href };
}
`;

export interface FreshModules {
  /** From now on, modules under the folder are imported anew (once each). */
  renew(): void;
}

/** Call once per process, before the bot first imports the folder's modules. */
export function freshModulesUnder(dir: string): FreshModules {
  const version = new Int32Array(new SharedArrayBuffer(4));
  // node resolves a module to its real path, so a folder reached through a link is matched by its target.
  const folderUrl = `${pathToFileURL(realpathSync(dir)).href}/`;
  register(`data:text/javascript,${encodeURIComponent(FRESH_HOOK)}`, {
    data: { folderUrl, version: version.buffer },
  });
  return { renew: () => void Atomics.add(version, 0, 1) };
}
