// Handler state belongs to a bot: several bots in one process (tests, the sandbox, shards) load the same
// handler modules, and none may see, keep or clear another's state.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { handlerStatus } from '../../src/discord/handler-status.js';
import { loadHandlers } from '../../src/handlers/registry.js';
import {
  advance,
  type Bot,
  captureLog,
  eventually,
  logged,
  MINUTE,
  runsRecorded,
  startBot,
  startBots,
} from './helpers.js';

let bots: Bot[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const bot of bots.splice(0)) await bot.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function statusOf(bot: Bot, name: string): string | undefined {
  const { task } = bot.runtime.info(bot.guild.id, name);
  return handlerStatus({ registry: bot.registry, db: bot.connection.db }, task);
}

function renameStatuses(bot: Bot): (number | undefined)[] {
  const lounge = bot.guild.channels.Lounge!;
  return bot.emulator.requests
    .filter((r) => r.method === 'PATCH' && r.path === `/channels/${lounge}`)
    .map((r) => r.status);
}

/** A folder with one custom module (it imports only zod, which resolves from this checkout). */
function moduleDir(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-per-bot-'));
  dirs.push(dir);
  writeFileSync(join(dir, name), text);
  return dir;
}

describe('the counter, with two bots in one process', () => {
  it("keeps each bot's held rename: stopping one bot leaves the other's in place, and it fires", async () => {
    bots = await startBots(2);
    const [stopping, staying] = bots as [Bot, Bot];
    for (const bot of bots) {
      // Someone else spent the channel's renames: the first rename is held for 5 minutes, and with an hourly
      // schedule only the held rename's timer can apply it.
      bot.emulator.rest.faults.fail(
        { method: 'PATCH', path: '/channels/:id' },
        { status: 429, retryAfterSeconds: 300, times: 1 },
      );
      await bot.create(
        {
          name: 'members',
          kind: 'counter',
          options: { template: 'Members: {members}' },
          schedule: { kind: 'interval', seconds: 3_600 },
        },
        'Lounge',
      );
    }
    await advance(0);
    for (const bot of bots) await runsRecorded(bot, 'members', 1);
    expect(statusOf(stopping, 'members')).toMatch(/^A rename to “Members: \d+” is waiting/);
    expect(statusOf(staying, 'members')).toMatch(/^A rename to “Members: \d+” is waiting/);

    await stopping.stop();
    expect(statusOf(staying, 'members')).toMatch(/^A rename to “Members: \d+” is waiting/);
    // Past Discord's retry-after (in steps, so no REST timeout fires on the fake clock mid-request).
    await advance(300_000);
    await advance(2_000);
    await logged(staying, 'counter channel renamed');
    const guild = staying.client.guilds.cache.get(staying.guild.id)!;
    expect(staying.emulator.world.channel(staying.guild.channels.Lounge!).name).toBe(
      `Members: ${guild.memberCount}`,
    );
    expect(renameStatuses(staying)).toEqual([429, 200]);
    expect(statusOf(staying, 'members')).toBeUndefined();
    // The stopped bot's clean-up cleared its own timer: it sent nothing more.
    expect(renameStatuses(stopping)).toEqual([429]);
    expect(stopping.logs.lines.filter((line) => line.msg === 'counter channel renamed')).toEqual([]);
  });

  it('learns whether its task runs from the runtime (start, stop, delete), not from the tasks table', async () => {
    bots = [await startBot()];
    const [bot] = bots as [Bot];
    const lounge = bot.guild.channels.Lounge!;
    await bot.create(
      { name: 'humans', kind: 'counter', options: { template: 'Humans: {humans}' } },
      'Lounge',
    );
    const taskId = bot.runtime.info(bot.guild.id, 'humans').task.id;
    expect(bot.runtime.isRunning(taskId)).toBe(true);
    await advance(0);
    await runsRecorded(bot, 'humans', 1);
    await bot.runtime.stop(bot.guild.id, 'humans');
    expect(bot.runtime.isRunning(taskId)).toBe(false);
    await bot.runtime.start(bot.guild.id, 'humans');
    expect(bot.runtime.isRunning(taskId)).toBe(true);
    await bot.runtime.delete(bot.guild.id, 'humans');
    expect(bot.runtime.isRunning(taskId)).toBe(false);
    expect(renameStatuses(bot)).toEqual([200]);
    expect(bot.emulator.world.channel(lounge).name).toMatch(/^Humans: \d+$/);
  });
});

describe('a custom handler with createState', () => {
  const COUNTING = `
import { z } from 'zod';
export default {
  kind: 'tally', description: 'Counts its runs per bot', options: z.object({}),
  createState: () => ({ runs: 0, setUp: false }),
  setup({ state }) { state.setUp = true; },
  async run(ctx) {
    ctx.state.runs++;
    await ctx.send(\`run \${ctx.state.runs} (set up: \${ctx.state.setUp}, running: \${ctx.tasks.isRunning(ctx.task.id)})\`);
  },
  status: (_task, _store, state) => \`\${state.runs} runs on this bot\`,
};
`;

  it('gets one state per bot, in setup, every run and status, though both bots load the one module', async () => {
    const dir = moduleDir('tally.ts', COUNTING);
    bots = await startBots(2, { handlerDirs: [dir] });
    for (const bot of bots) await bot.create({ name: 'tally', kind: 'tally' });
    await advance(0);
    for (const bot of bots) await runsRecorded(bot, 'tally', 1);
    await advance(MINUTE);
    for (const bot of bots) await runsRecorded(bot, 'tally', 2);
    for (const bot of bots) {
      const posts = bot.emulator.world.messages(bot.guild.channels.general!).map((m) => m.message.content);
      expect(posts).toEqual(['run 1 (set up: true, running: true)', 'run 2 (set up: true, running: true)']);
      expect(statusOf(bot, 'tally')).toBe('2 runs on this bot');
    }
  });

  it('fails its runs with a sentence when createState throws, and /task info still answers', async () => {
    const dir = moduleDir(
      'broken-state.ts',
      `
import { z } from 'zod';
export default {
  kind: 'broken', description: 'd', options: z.object({}),
  createState() { throw new Error('no state today'); },
  async run() {},
  status: () => 'never shown',
};
`,
    );
    bots = [await startBot({ handlerDirs: [dir] })];
    const [bot] = bots as [Bot];
    expect(
      bot.logs.lines.find((line) => line.msg?.toString().startsWith('handler createState failed')),
    ).toMatchObject({
      kind: 'broken',
      err: expect.objectContaining({ message: 'no state today' }),
    });
    await bot.create({ name: 'broken', kind: 'broken' });
    await advance(0);
    await eventually(() =>
      expect(bot.runtime.info(bot.guild.id, 'broken').runs[0]).toMatchObject({
        outcome: 'error',
        error: 'the "broken" handler could not make its state: no state today',
      }),
    );
    expect(statusOf(bot, 'broken')).toBeUndefined();
  });

  it('refuses a module whose createState is not a function', async () => {
    const dir = moduleDir(
      'odd.ts',
      `
import { z } from 'zod';
export default { kind: 'odd', description: 'd', options: z.object({}), async run() {}, createState: { runs: 0 } };
`,
    );
    const { log } = captureLog();
    const registry = await loadHandlers({ dirs: [dir], log });
    expect(registry.kinds).not.toContain('odd');
    expect(registry.skipped).toEqual([
      { path: join(dir, 'odd.ts'), reason: 'createState must be a function' },
    ]);
  });
});
