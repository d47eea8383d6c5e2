// Watches a handlers folder for edits to its modules, as an editor makes them: one save is often several
// events (write, rename over a temporary file), so changes are gathered until the folder has been quiet for
// `quietMs`, then reported once as a list of files.
import { type FSWatcher, watch } from 'node:fs';
import { basename, join } from 'node:path';

export const RELOAD_QUIET_MS = 150;

const SOURCE = /\.(?:[cm]?js|[cm]?ts|json)$/;
const NOT_SOURCE = /\.d\.[cm]?ts$|\.(?:test|spec)\.[cm]?[jt]s$/;

/** Whether an edit to this path (relative to the folder) can change what the bot runs. */
export function isWatchedSource(relativePath: string): boolean {
  const name = basename(relativePath);
  return (
    SOURCE.test(name) &&
    !NOT_SOURCE.test(name) &&
    !name.startsWith('.') &&
    !relativePath.split(/[\\/]/).includes('node_modules')
  );
}

export interface FolderWatch {
  close(): void;
}

/** Calls `onChange` with the full paths of the files changed, once per burst of edits. */
export function watchSources(
  dir: string,
  onChange: (files: string[]) => void,
  quietMs = RELOAD_QUIET_MS,
): FolderWatch {
  const changed = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watcher: FSWatcher = watch(dir, { recursive: true }, (_event, name) => {
    if (name === null || !isWatchedSource(name)) return;
    changed.add(join(dir, name));
    clearTimeout(timer);
    timer = setTimeout(() => {
      const files = [...changed].sort();
      changed.clear();
      onChange(files);
    }, quietMs);
  });
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
