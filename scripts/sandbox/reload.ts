// Live reload of the sandbox's handler modules. The bot is restarted on the same database and emulator, as
// an author restarts `npm start` after an edit: a fresh registry, setup() run again, /task re-registered if a
// kind or its options changed, and tasks resumed by the normal rules. Swapping handlers inside a running bot
// would take a path production never takes. A new version that fails to load leaves the running bot alone.
import { basename } from 'node:path';
import type { Bot } from '../../src/bot.js';
import { BUILTIN_HANDLERS_DIR, loadHandlers, type SkippedModule } from '../../src/handlers/registry.js';
import { createLogger } from '../../src/log.js';
import type { FreshModules } from './fresh-modules.js';

export interface ReloadOptions {
  bot: Bot;
  /** The handlers folder, as the bot was given it. */
  dir: string;
  /** The files whose edits set off this reload. */
  changed: readonly string[];
  fresh: FreshModules;
  /** Starts the bot again on the same database; the running one is stopped first. */
  restart: () => Promise<Bot>;
  guildId: string;
  print: (line: string) => void;
}

/** Reloads the folder's modules; resolves with the bot now running (the old one if the new code failed). */
export async function reloadHandlers(options: ReloadOptions): Promise<Bot> {
  const { bot, dir, changed, print } = options;
  options.fresh.renew();
  // Imported here first: the restarted bot's import of the same version finds these modules, not new ones.
  const trial = await loadHandlers({ dirs: [dir], log: createLogger({ level: 'silent' }) });
  const running = new Set(customFiles(bot).values());
  const broken = trial.skipped.filter((module) => running.has(module.path));
  if (broken.length > 0) {
    for (const module of broken) {
      print(
        `✗ ${basename(module.path)} did not reload: ${module.reason}. The version loaded before keeps running.`,
      );
    }
    return bot;
  }
  const kindsBefore = customFiles(bot);
  await bot.stop();
  const restarted = await options.restart();
  const kindsAfter = customFiles(restarted);
  const tasks = (kind: string) => {
    const count = restarted.runtime.list(options.guildId).filter((task) => task.kind === kind).length;
    return `${count} task${count === 1 ? '' : 's'}`;
  };
  const kindOf = (files: Map<string, string>, file: string) =>
    [...files].find(([, path]) => path === file)?.[0];
  for (const file of changed) {
    const kind = kindOf(kindsAfter, file);
    const gone = kindOf(kindsBefore, file);
    const failed = restarted.registry.skipped.find((module) => module.path === file);
    if (kind !== undefined) print(`reloaded ${basename(file)}: kind ${kind}, ${tasks(kind)}`);
    else if (failed) print(notLoaded(failed));
    else if (gone !== undefined)
      print(`${basename(file)} is gone: kind ${gone} is no longer loaded (${tasks(gone)})`);
    else print(`reloaded ${basename(file)} with the folder's modules`);
  }
  if (restarted.started.commands === 'updated') print('/task re-registered: kinds or their options changed');
  for (const left of restarted.started.notOffered) print(notOffered(left));
  return restarted;
}

/** The custom modules the bot loaded: kind → file. */
export function customFiles(bot: Bot): Map<string, string> {
  return new Map([...bot.registry.files].filter(([, file]) => !file.startsWith(BUILTIN_HANDLERS_DIR)));
}

export function notOffered(left: { path: string; reason: string }): string {
  return `✗ /task ${left.path} is not offered: ${left.reason}`;
}

export function notLoaded(module: SkippedModule): string {
  return `✗ ${module.path} was not loaded: ${module.reason}`;
}
