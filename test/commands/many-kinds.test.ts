// Many custom kinds: /task offers those that fit Discord's limits (in load order, built-ins first), names
// the others in the log and in bot.started.notOffered, and the bot starts anyway.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commandSize, MAX_COMMAND_SIZE } from '../../emulator/commands.js';
import { data as createGroup } from '../../src/commands/task/create.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import { startTestBot, type TestBot } from './helpers.js';

const BUILT_INS = ['counter', 'leaderboard', 'reminder'];

/** A handler module with no imports (so it loads from any folder), of kind `kindNN`. */
function moduleSource(kind: string): string {
  return `export default {
  kind: '${kind}',
  description: 'A generated kind for the many-kinds test: it posts nothing at all',
  options: { safeParse: (value) => ({ success: true, data: value }) },
  slashOptions: (b) => b.addStringOption((o) => o.setName('text').setDescription('Some text for this kind')),
  async run() {},
};
`;
}

const kindName = (index: number) => `kind${String(index).padStart(2, '0')}`;

function handlersDirWith(count: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-kinds-'));
  for (let index = 1; index <= count; index++) {
    writeFileSync(join(dir, `${kindName(index)}.mjs`), moduleSource(kindName(index)));
  }
  return dir;
}

let t: TestBot | undefined;
let dir: string | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('many task kinds', () => {
  it('offers the kinds that fit in load order, reports the rest, and starts anyway', async () => {
    dir = handlersDirWith(30);
    t = await startTestBot({ handlersDir: dir });

    const [registered] = t.emulator.commands.list(null);
    expect(registered).toBeDefined();
    expect(commandSize(registered as Parameters<typeof commandSize>[0])).toBeLessThanOrEqual(
      MAX_COMMAND_SIZE,
    );
    const create = registered?.options?.find((o) => o.name === 'create');
    const offered = create && 'options' in create ? (create.options ?? []).map((o) => o.name) : [];
    const customOffered = offered.length - BUILT_INS.length;
    expect(offered.slice(0, BUILT_INS.length)).toEqual(BUILT_INS);
    expect(customOffered).toBeGreaterThan(5);
    expect(offered.slice(BUILT_INS.length)).toEqual(
      Array.from({ length: customOffered }, (_, index) => kindName(index + 1)),
    );

    const notOffered = t.bot.started.notOffered;
    expect(notOffered.map((entry) => entry.path)).toEqual(
      Array.from(
        { length: 30 - customOffered },
        (_, index) => `create ${kindName(customOffered + index + 1)}`,
      ),
    );
    expect(notOffered[0]?.reason).toMatch(/of \/task's 8,000 characters .* only \d+ are left/);
    const warnings = t.logs.filter((line) => line.level === 40 && line.subcommand === notOffered[0]?.path);
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.msg)).toContain(`/task ${notOffered[0]?.path} is not offered`);

    // Every kind is still loaded (tasks of a kind left out keep running); the offered ones work.
    expect(t.bot.registry.kinds).toHaveLength(33);
    expect(
      await t.run(`create ${kindName(1)}`, { name: 'first', channel: t.a.channels.general!, every: '1h' }),
    ).toContain('Created **first**');
  });

  it('puts at most 25 kinds in the create group, whatever room is left', async () => {
    const registry = new HandlerRegistry();
    const dirWithMany = handlersDirWith(30);
    dir = dirWithMany;
    for (let index = 1; index <= 30; index++) {
      const module = (await import(join(dirWithMany, `${kindName(index)}.mjs`))) as { default: unknown };
      expect(registry.add(module.default)).toBeUndefined();
    }
    const leftOut: { path: string; reason: string }[] = [];
    const group = createGroup(registry, {
      characters: Number.POSITIVE_INFINITY,
      leaveOut: (path, reason) => leftOut.push({ path, reason }),
    });
    expect(group?.options).toHaveLength(25);
    expect(leftOut.map((entry) => entry.path)).toEqual(
      [26, 27, 28, 29, 30].map((index) => `create ${kindName(index)}`),
    );
    expect(leftOut[0]?.reason).toBe('Discord allows at most 25 kinds in /task create');
  });
});
