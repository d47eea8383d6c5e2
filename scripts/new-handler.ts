// `npm run new-handler -- <kind> [--dir handlers]`: writes a working handler module and its test, to start a
// new kind of task from. The kind is checked by the bot's own gate (the registry, beside the built-ins and the
// folder's modules), so what this writes is what the bot loads.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { loadTaskCommand } from '../src/commands/index.js';
import { BUILTIN_HANDLERS_DIR, isModuleFile, loadHandlers } from '../src/handlers/registry.js';
import { createLogger } from '../src/log.js';

export interface Scaffold {
  module: string;
  test: string;
}

/**
 * Writes `<dir>/<kind>.ts` and `<dir>/<kind>.test.ts`; resolves with their paths, or with a sentence saying
 * why not (a kind the bot would refuse or already has, a /task word, a file already there), writing nothing.
 */
export async function scaffoldHandler(kind: string, dir: string): Promise<Scaffold | string> {
  const problem = await kindProblem(kind, dir);
  if (problem !== undefined) return problem;
  const files = { module: join(dir, `${kind}.ts`), test: join(dir, `${kind}.test.ts`) };
  for (const path of Object.values(files)) {
    if (existsSync(path)) return `${path} already exists; pick another kind or move that file away.`;
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(files.module, moduleText(kind));
  writeFileSync(files.test, testText(kind));
  return files;
}

async function kindProblem(kind: string, dir: string): Promise<string | undefined> {
  // The folder's modules too, as the bot would load them: a kind one of them has is taken.
  const dirs = existsSync(dir) && readdirSync(dir).some(isModuleFile) ? [dir] : [];
  const registry = await loadHandlers({ dirs, log: createLogger({ level: 'silent' }) });
  if (registry.get(kind) !== undefined) {
    const file = registry.files.get(kind);
    const where = file?.startsWith(BUILTIN_HANDLERS_DIR) ? 'a built-in kind' : `the kind of ${file}`;
    return `"${kind}" is taken: it is ${where}; pick another kind.`;
  }
  const refused = registry.add({ kind, description: 'new', options: z.object({}), run: async () => {} });
  if (refused !== undefined) return `"${kind}" is not a valid kind: ${refused}.`;
  const words = [...(await loadTaskCommand(registry)).subcommands.keys()];
  if (words.includes(kind)) {
    return `"${kind}" is a /task subcommand (/task ${kind}), so it would read as one; pick another kind.`;
  }
  return undefined;
}

function moduleText(kind: string): string {
  return `// A Metronome handler: \`/task create ${kind}\` makes tasks of this kind. Its test is ${kind}.test.ts
// (npx vitest run handlers/${kind}.test.ts); the README's "Writing a handler" says what ctx holds.
import { defineHandler } from 'metronome';
import { z } from 'zod';

export default defineHandler({
  kind: '${kind}',
  description: 'Post a message on a schedule', // ≤ 100 characters
  // What the admin types, validated; each key is a slash option of the same name below.
  options: z.object({ message: z.string().min(1, 'say what to post').max(1_900) }),
  slashOptions: (b) =>
    b.addStringOption((o) =>
      o.setName('message').setDescription('What to post').setRequired(true).setMaxLength(1_900),
    ),
  async run(ctx) {
    // ctx.store keeps JSON per task, across runs and restarts; saved after the post, so a retried run
    // (same nonce, posted once) counts once.
    const posted = (ctx.store.get<number>('posted') ?? 0) + 1;
    await ctx.send(\`\${ctx.options.message} (#\${posted})\`);
    ctx.store.set('posted', posted);
  },
  status: (_task, store) => \`\${store.get<number>('posted') ?? 0} posted so far.\`,
});
`;
}

function testText(kind: string): string {
  return `// Runs on the emulator and a fake clock: no Discord, no token. npx vitest run handlers/${kind}.test.ts
import { handlerTestbed, type Testbed } from 'metronome/testing';
import { afterEach, expect, it } from 'vitest';
import handler from './${kind}.js';

let bed: Testbed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

it('posts its message on schedule', async () => {
  bed = await handlerTestbed({ handlers: [handler] });
  const task = await bed.create('${kind}', { message: 'Hello' }, { every: '1d' });
  await bed.advance('2d');
  expect(bed.posts('#general').map((m) => m.content)).toEqual(['Hello (#1)', 'Hello (#2)', 'Hello (#3)']);
  expect(await bed.info(task)).toContain('3 posted so far.');
});

it('refuses an empty message', async () => {
  bed = await handlerTestbed({ handlers: [handler] });
  await expect(bed.create('${kind}', { message: '' })).rejects.toThrow('say what to post');
});
`;
}

const USAGE = 'usage: npm run new-handler -- <kind> [--dir <folder>] (default folder: handlers)';

async function main(args: string[]): Promise<number> {
  const dirAt = args.indexOf('--dir');
  const dir = resolve(dirAt === -1 ? 'handlers' : (args[dirAt + 1] ?? ''));
  const rest = dirAt === -1 ? args : args.filter((_, index) => index !== dirAt && index !== dirAt + 1);
  if (rest.length !== 1 || rest[0]!.startsWith('-') || (dirAt !== -1 && args[dirAt + 1] === undefined)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const result = await scaffoldHandler(rest[0]!, dir);
  if (typeof result === 'string') {
    process.stderr.write(`${result}\n`);
    return 1;
  }
  const shown = (path: string) => relative(process.cwd(), path) || path;
  process.stdout.write(
    `wrote ${shown(result.module)} and ${shown(result.test)}\n` +
      `try it: npx vitest run ${shown(result.test)}\n`,
  );
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
