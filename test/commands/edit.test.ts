// /task edit end to end: the emulator, the real discord.js client, startBot, SQLite on disk. A task changes
// what it does and keeps its history; every option refuses bad input with one sentence.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIApplicationCommandOption } from 'discord-api-types/v10';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OptionValue } from '../../emulator/index.js';
import { data as editData } from '../../src/commands/task/edit.js';
import { commandCharacters, MAX_COMMAND_CHARACTERS } from '../../src/discord/command-limits.js';
import { FIXTURE_HANDLERS, startTestBot, type TestBot } from './helpers.js';

/** A custom kind with one option of each type, in a module with no imports (so it loads from any folder). */
const GADGET = `export default {
  kind: 'gadget',
  description: 'A test kind with an option of each type',
  options: {
    safeParse(value) {
      if (!Number.isInteger(value.level)) {
        return { success: false, error: { issues: [{ path: ['level'], message: 'a level is needed' }] } };
      }
      if (value.note === 'forbidden') {
        return { success: false, error: { issues: [{ path: ['note'], message: 'that note is not allowed' }] } };
      }
      return { success: true, data: value };
    },
  },
  slashOptions: (b) =>
    b
      .addIntegerOption((o) => o.setName('level').setDescription('1 to 5').setRequired(true).setMinValue(1).setMaxValue(5))
      .addBooleanOption((o) => o.setName('loud').setDescription('Shout'))
      .addRoleOption((o) => o.setName('crew').setDescription('A role'))
      .addChannelOption((o) => o.setName('mirror').setDescription('Another channel'))
      .addStringOption((o) => o.setName('mode').setDescription('a or b').addChoices({ name: 'mode a', value: 'a' }, { name: 'mode b', value: 'b' }))
      .addStringOption((o) => o.setName('note').setDescription('Anything').setMaxLength(10))
      .addStringOption((o) => o.setName('size').setDescription('small or large (a leaderboard size is a number)')),
  async run(ctx) {
    await ctx.send('gadget level ' + ctx.options.level + (ctx.options.note ? ' ' + ctx.options.note : ''));
  },
};
`;

let t: TestBot;
let dir: string;
let general: string;
let announcements: string;
let crew: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'metronome-edit-kinds-'));
  writeFileSync(join(dir, 'gadget.mjs'), GADGET);
  t = await startTestBot({ handlersDir: dir });
  general = t.a.channels.general!;
  announcements = t.a.channels.announcements!;
  crew = t.a.roles.Crew!;
});
afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

const edit = (options: Record<string, OptionValue>, as?: Parameters<TestBot['run']>[2]) =>
  t.run('edit', options, as);

const byBot = (channelId: string) => (m: { author: { id: string } }) =>
  m.author.id === t.emulator.world.botUser.id && channelId !== '';

/** Waits (polling, on real time) until the task's runs done are recorded. */
function runsDone(name: string, count: number) {
  return vi.waitFor(() => expect(t.bot.runtime.info(t.a.id, name, 0).task.currentLoop).toBe(count), {
    timeout: 5_000,
    interval: 10,
  });
}

function suggest(focused: string, value: string, options: Record<string, OptionValue>) {
  return t.emulator.invokeAutocomplete({
    command: 'task',
    subcommand: 'edit',
    user: t.a.admin,
    guild: t.a.id,
    channel: general,
    options,
    focused,
    value,
  });
}

function registeredEdit(): APIApplicationCommandOption & { options?: APIApplicationCommandOption[] } {
  const [registered] = t.emulator.commands.list(null);
  const found = registered?.options?.find((o) => o.name === 'edit');
  expect(found).toBeDefined();
  return found as APIApplicationCommandOption & { options?: APIApplicationCommandOption[] };
}

describe('/task edit, registered', () => {
  it('is one subcommand: no schedule options, the built-in kinds typed and optional, within Discord limits', () => {
    const options = registeredEdit().options ?? [];
    const names = options.map((o) => o.name);
    expect(names).toEqual([
      'name',
      'rename',
      'channel',
      'count',
      'catchup',
      'timeout',
      'message',
      'role',
      'title',
      'color',
      'template',
      'target',
      'size',
      'period',
      'option',
      'value',
      'clear',
    ]);
    for (const schedule of ['every', 'at', 'timezone', 'cron']) expect(names).not.toContain(schedule);
    expect(options.filter((o) => 'required' in o && o.required).map((o) => o.name)).toEqual(['name']);
    const autocompleted = options.filter((o) => 'autocomplete' in o && o.autocomplete).map((o) => o.name);
    expect(autocompleted).toEqual([
      'name',
      'rename',
      'count',
      'timeout',
      'message',
      'title',
      'color',
      'template',
      'size',
      'option',
      'value',
      'clear',
    ]);
    // Discord itself refuses a count below 1 or a size outside 3–25, as at create; the runtime checks again.
    expect(options.find((o) => o.name === 'count')).toMatchObject({ min_value: 1, max_value: 1_000_000 });
    expect(options.find((o) => o.name === 'size')).toMatchObject({ min_value: 3, max_value: 25 });
    expect(options.find((o) => o.name === 'period')).toMatchObject({ choices: expect.any(Array) });
    // A fixed size, whatever the kinds loaded: measured here, and reported in the README.
    expect(commandCharacters(editData.toJSON())).toBe(1007);
    expect(commandCharacters(editData.toJSON())).toBeLessThan(MAX_COMMAND_CHARACTERS / 7);
  });
});

describe('/task edit, a reminder', () => {
  it('changes message, role and title; says what changed; the next post uses them; history stays', async () => {
    await t.run('create reminder', {
      name: 'standup',
      channel: general,
      every: '1h',
      message: 'Stand up',
      count: 5,
    });
    await t.emulator.waitForMessage(general, (m) => m.content === 'Stand up');
    const reply = await edit({ name: 'standup', message: 'Stand up, now', role: crew, title: 'Daily' });
    expect(reply).toBe('**standup**: message "Stand up" → "Stand up, now", role set, title set to "Daily".');
    await t.run('stop', { name: 'standup' });
    await t.run('start', { name: 'standup' }); // runs at once, from where it was
    const post = await t.emulator.waitForMessage(
      general,
      (m) => m.embeds?.[0]?.description === 'Stand up, now',
    );
    expect(post.content).toBe(`<@&${crew}>`);
    expect(post.embeds?.[0]?.title).toBe('Daily');
    await runsDone('standup', 2); // the post lands just before its run is recorded

    expect(await edit({ name: 'standup', clear: 'role, title' })).toBe(
      '**standup**: role removed, title removed.',
    );
    expect(await edit({ name: 'standup', count: 2 })).toBe(
      '**standup**: count 5 → 2 (already ran 2 times, so it is now completed).',
    );
    expect(await t.run('info', { name: 'standup' })).toContain('completed');
    expect(await edit({ name: 'standup', count: 3 })).toBe(
      '**standup**: count 2 → 3 (it had completed, so it is now stopped: `/task start` runs the 1 left).',
    );
    expect(await t.run('start', { name: 'standup' })).toContain('Started **standup** (2 of 3 runs done)');
    await t.emulator.waitForMessage(general, (m) => m.content === 'Stand up, now');
  });

  it('renames, moves and retimes a task; the old name is gone', async () => {
    await t.run('create reminder', { name: 'moveme', channel: general, every: '1h', message: 'moving' });
    const reply = await edit({
      name: 'moveme',
      rename: 'moved',
      channel: announcements,
      timeout: '30s',
      catchup: 'once',
    });
    expect(reply).toBe(
      `**moveme**: renamed to **moved**, channel <#${general}> → <#${announcements}>, catch-up skip → once, timeout 1m → 30s.`,
    );
    expect(await t.run('info', { name: 'moved' })).toContain(`<#${announcements}>`);
    expect(await t.run('info', { name: 'moveme' })).toBe('This server has no task named "moveme".');
    expect(await edit({ name: 'moved', clear: 'timeout, count' })).toBe('**moved**: timeout 30s → 1m.');
    expect(await edit({ name: 'moved', catchup: 'once' })).toBe(
      '**moved** already has those settings; nothing changed.',
    );
  });

  it('answers every wrong input with one sentence, and changes nothing', async () => {
    await t.run('create reminder', { name: 'target', channel: general, every: '1h', message: 'hi' });
    await t.run('create reminder', { name: 'taken', channel: general, every: '1h', message: 'hi' });
    const cases: [Record<string, OptionValue>, RegExp][] = [
      [{}, /^Give at least one thing to change/],
      [{ rename: 'Bad Name!' }, /"Bad Name!" is not a valid task name/],
      [{ rename: 'taken' }, /already has a task named "taken"/],
      [{ channel: t.a.channels.locked! }, /I need the \*\*Send Messages\*\* permission there/],
      [{ channel: t.b.channels.general! }, /is not a channel of this server/],
      [{ timeout: 'soon' }, /"soon" is not a duration: write the timeout like 30s/],
      [{ timeout: '0s' }, /at least 1 second/],
      [{ timeout: '16m' }, /at most 15 minutes/],
      [{ message: '   ' }, /The `message` option is not valid for a reminder task: the message is empty\./],
      [{ message: 'x'.repeat(1990), role: crew }, /with a role mention the message can be at most/],
      [
        { color: '#zzzzzz' },
        /The `color` option is not valid for a reminder task: color must look like #5865f2\./,
      ],
      [{ title: '' }, /The `title` option is not valid/],
      [
        { template: 'x {members}' },
        /A reminder task has no `template` option; it has these: `message`, `role`, `title`, `color`\./,
      ],
      [{ size: 5 }, /A reminder task has no `size` option/],
      [{ period: 'day' }, /A reminder task has no `period` option/],
      [{ target: 'message' }, /A reminder task has no `target` option/],
      [{ option: 'nope', value: 'x' }, /A reminder task has no `nope` option/],
      [{ option: 'message' }, /`option` and `value` go together/],
      [{ value: 'x' }, /`option` and `value` go together/],
      [{ option: 'message', value: 'a', message: 'b' }, /`message` is given twice/],
      [{ option: 'role', value: 'nobody' }, /`role` takes a role of this server/],
      [{ clear: 'message' }, /A reminder task needs a `message`; give it a new one instead of clearing it\./],
      [{ clear: 'channel' }, /Every task has a channel; set a new one instead of clearing it\./],
      [{ clear: 'catchup' }, /Every task has a catch-up policy/],
      [{ clear: 'wings' }, /A reminder task has no `wings` option/],
      [{ clear: ' , ' }, /Name the options to clear/],
      [{ clear: 'role', role: crew }, /`role` is both given a value and cleared/],
      [{ clear: 'count', count: 3 }, /`count` is both given a value and cleared/],
    ];
    for (const [options, sentence] of cases) {
      const reply = await edit({ name: 'target', ...options });
      expect(reply, JSON.stringify(options)).toMatch(sentence);
      expect(reply.split('\n')).toHaveLength(1);
    }
    expect(await edit({ name: 'ghost', count: 2 })).toBe('This server has no task named "ghost".');
    const info = await t.run('info', { name: 'target' });
    expect(info).toContain(`<#${general}>`);
    expect(info).not.toContain('Crew');
  });
});

describe('/task edit, other kinds', () => {
  it("sets a leaderboard's size, period and title, and resets the title to its default", async () => {
    await t.run('create leaderboard', { name: 'board', channel: general, every: '1h' });
    expect(await edit({ name: 'board', size: 5, period: 'day', title: 'Top chatters' })).toBe(
      '**board**: size 10 → 5, period "week" → "day", title "Most active members" → "Top chatters".',
    );
    expect(await edit({ name: 'board', clear: 'title' })).toBe(
      '**board**: title "Top chatters" → "Most active members".',
    );
    expect(await edit({ name: 'board', option: 'size', value: '30' })).toBe('`size` can be at most 25.');
    expect(await edit({ name: 'board', option: 'period', value: 'year' })).toBe(
      '`period` must be one of `all`, `month`, `week`, `day`.',
    );
    expect(await edit({ name: 'board', message: 'hi' })).toMatch(
      /A leaderboard task has no `message` option/,
    );
  });

  it("checks a counter's channel again when its target changes", async () => {
    await t.run('create counter', {
      name: 'members',
      channel: t.a.channels.stats!,
      every: '10m',
      template: 'Members: {members}',
    });
    expect(await edit({ name: 'members', template: 'People: {people}' })).toMatch(
      /unknown placeholder \{people\}/,
    );
    expect(await edit({ name: 'members', target: 'message', channel: t.a.channels.locked! })).toMatch(
      /I need the \*\*Send Messages\*\* permission/,
    );
    expect(await edit({ name: 'members', template: 'Humans: {humans}' })).toBe(
      '**members**: template "Members: {members}" → "Humans: {humans}".',
    );
  });

  it("sets a custom kind's options by name with option and value, each type checked", async () => {
    await t.run('create gadget', { name: 'gizmo', channel: general, every: '1h', level: 2 });
    await runsDone('gizmo', 1);
    const cases: [string, string, string | RegExp][] = [
      ['level', '4', '**gizmo**: level 2 → 4.'],
      ['level', 'four', '`level` takes a whole number, like 1.'],
      ['level', '2.5', '`level` takes a whole number, like 1.'],
      ['level', '0', '`level` must be at least 1.'],
      ['level', '6', '`level` can be at most 5.'],
      ['loud', 'yes', '**gizmo**: loud set to true.'],
      ['loud', 'maybe', '`loud` takes true or false.'],
      ['crew', '@crew', '**gizmo**: crew set.'],
      ['crew', '<@&1>', /`crew` takes a role of this server/],
      ['mirror', `<#${announcements}>`, '**gizmo**: mirror set.'],
      ['mirror', t.b.channels.general!, '`mirror` takes a channel of this server; pick one from the list.'],
      ['mode', 'b', '**gizmo**: mode set to "b".'],
      ['mode', 'c', '`mode` must be one of `a`, `b`.'],
      ['note', 'a note', '**gizmo**: note set to "a note".'],
      ['note', 'far too long a note', '`note` can be at most 10 characters.'],
      ['note', 'forbidden', 'The `note` option is not valid for a gadget task: that note is not allowed.'],
    ];
    for (const [option, value, reply] of cases) {
      expect(await edit({ name: 'gizmo', option, value }), `${option}=${value}`).toMatch(
        typeof reply === 'string' ? new RegExp(`^${reply.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : reply,
      );
    }
    // The typed size is a leaderboard's number; this kind's size is text, set by name.
    expect(await edit({ name: 'gizmo', size: 5 })).toBe(
      'For a gadget task, set `size` with `option:size` and `value`.',
    );
    expect(await edit({ name: 'gizmo', option: 'size', value: 'large' })).toBe(
      '**gizmo**: size set to "large".',
    );
    expect(await edit({ name: 'gizmo', clear: 'level' })).toBe(
      'A gadget task needs a `level`; give it a new one instead of clearing it.',
    );
    expect(await edit({ name: 'gizmo', clear: 'crew, note' })).toBe('**gizmo**: crew removed, note removed.');
    await t.run('stop', { name: 'gizmo' });
    await t.run('start', { name: 'gizmo' });
    await t.emulator.waitForMessage(general, (m) => m.content === 'gadget level 4' && byBot(general)(m));
  });
});

describe('/task edit autocomplete', () => {
  it('offers the current value first', async () => {
    const long = `${'a long message '.repeat(10)}end`;
    await t.run('create reminder', {
      name: 'auto',
      channel: general,
      every: '1h',
      message: 'Hello there',
      role: crew,
      count: 7,
      timeout: '90s',
    });
    await runsDone('auto', 1);
    await t.run('create reminder', { name: 'autolong', channel: general, every: '1h', message: long });
    expect(await suggest('message', '', { name: 'auto' })).toEqual([
      { name: 'current: Hello there', value: 'Hello there' },
    ]);
    expect(await suggest('message', 'Hi', { name: 'auto' })).toEqual([
      { name: 'current: Hello there', value: 'Hello there' },
      { name: 'new: Hi', value: 'Hi' },
    ]);
    expect(await suggest('message', '', { name: 'autolong' })).toEqual([]);
    const cut = await suggest('message', 'short', { name: 'autolong' });
    expect(cut[0]?.name).toMatch(/^\(153 characters, too long to pick\) current: a long message/);
    expect(cut[0]?.name.length).toBeLessThanOrEqual(100);
    expect(cut.map((choice) => choice.value)).toEqual(['short']);
    expect(await suggest('rename', '', { name: 'auto' })).toEqual([
      { name: 'current name: auto', value: 'auto' },
    ]);
    expect(await suggest('count', '', { name: 'auto' })).toEqual([{ name: 'current: 7 (1 done)', value: 7 }]);
    expect(await suggest('count', '9', { name: 'auto' })).toEqual([
      { name: 'current: 7 (1 done)', value: 7 },
      { name: 'new: 9', value: 9 },
    ]);
    expect(await suggest('timeout', '', { name: 'auto' })).toEqual([
      { name: 'current: 1m30s', value: '1m30s' },
    ]);
    expect(await suggest('title', '', { name: 'auto' })).toEqual([]);
    expect(await suggest('size', '', { name: 'auto' })).toEqual([]);
    expect(await suggest('option', '', { name: 'auto' })).toEqual([
      { name: 'message: Hello there', value: 'message' },
      { name: 'role: @Crew', value: 'role' },
      { name: 'title: not set', value: 'title' },
      { name: 'color: not set', value: 'color' },
    ]);
    const roles = await suggest('value', '', { name: 'auto', option: 'role' });
    expect(roles[0]).toEqual({ name: 'current: @Crew', value: crew });
    expect(roles.map((choice) => choice.name)).toContain('@Admins');
    expect(await suggest('clear', '', { name: 'auto' })).toEqual([
      { name: 'role (remove)', value: 'role' },
      { name: 'count (runs forever)', value: 'count' },
      { name: 'timeout (back to 1m)', value: 'timeout' },
    ]);
    expect(await suggest('clear', 'role, co', { name: 'auto' })).toEqual([
      { name: 'role, count (runs forever)', value: 'role, count' },
    ]);
    expect(await suggest('message', '', { name: 'nosuchtask' })).toEqual([]);
    expect(await suggest('message', '', {})).toEqual([]);
  });

  it('offers a leaderboard its current size and title, and a custom kind its choices', async () => {
    await t.run('create leaderboard', { name: 'autoboard', channel: general, every: '1h', size: 12 });
    await t.run('create gadget', { name: 'autogadget', channel: general, every: '1h', level: 3, mode: 'a' });
    expect(await suggest('size', '', { name: 'autoboard' })).toEqual([{ name: 'current: 12', value: 12 }]);
    expect(await suggest('title', '', { name: 'autoboard' })).toEqual([
      { name: 'current: Most active members', value: 'Most active members' },
    ]);
    expect(await suggest('value', '', { name: 'autogadget', option: 'mode' })).toEqual([
      { name: 'current: a', value: 'a' },
      { name: 'mode b', value: 'b' },
    ]);
    expect(await suggest('value', '', { name: 'autogadget', option: 'loud' })).toEqual([
      { name: 'true', value: 'true' },
      { name: 'false', value: 'false' },
    ]);
  });
});

describe('/task edit, forged', () => {
  it('refuses schedule options with a sentence pointing to /task interval', async () => {
    await t.run('create reminder', { name: 'forged', channel: general, every: '1h', message: 'hi' });
    // A client still holding a definition of edit that had `every` (Discord checks against what it has).
    const [registered] = t.emulator.commands.list(null);
    const body = structuredClone(registered!);
    const sub = body.options!.find((o) => o.name === 'edit') as { options: unknown[] };
    sub.options.push({ type: 3, name: 'every', description: 'forged' });
    t.emulator.commands.edit(null, registered!.id, body);
    expect(await edit({ name: 'forged', every: '10s' })).toBe(
      "`/task edit` doesn't change when a task runs; use `/task interval` for that.",
    );
    expect(await t.run('info', { name: 'forged' })).toContain('every 1h');
  });
});

describe('/task edit, a kind no longer loaded', () => {
  it('changes only what needs no kind: name, count, catch-up, timeout', async () => {
    await t.run('create gadget', { name: 'orphan', channel: general, every: '1h', level: 1 });
    await t.restart(FIXTURE_HANDLERS); // the gadget module is gone
    expect(await edit({ name: 'orphan', option: 'note', value: 'x' })).toBe(
      'A gadget task has no `note` option; it has no options of its own.',
    );
    expect(await edit({ name: 'orphan', channel: announcements })).toBe(
      'There is no task kind "gadget" on this bot any more, so only the name, count, catch-up and timeout of **orphan** can change.',
    );
    expect(await edit({ name: 'orphan', count: 9, rename: 'orphan2' })).toBe(
      '**orphan**: renamed to **orphan2**, count forever → 9.',
    );
  });
});

describe('/task edit with many kinds', () => {
  let many: TestBot | undefined;
  let manyDir: string | undefined;
  afterAll(async () => {
    await many?.close();
    if (manyDir) rmSync(manyDir, { recursive: true, force: true });
  });

  it('keeps its size, fits /task in 8,000 characters, and edits a kind create had no room for', async () => {
    manyDir = mkdtempSync(join(tmpdir(), 'metronome-edit-many-'));
    const kind = (index: number) => `kind${String(index).padStart(2, '0')}`;
    for (let index = 1; index <= 30; index++) {
      writeFileSync(
        join(manyDir, `${kind(index)}.mjs`),
        `export default {
  kind: '${kind(index)}',
  description: 'A generated kind for the many-kinds test: it posts nothing at all',
  options: { safeParse: (value) => ({ success: true, data: value }) },
  slashOptions: (b) => b.addStringOption((o) => o.setName('text').setDescription('Some text for this kind')),
  async run() {},
};
`,
      );
    }
    many = await startTestBot({ handlersDir: manyDir });
    const [registered] = many.emulator.commands.list(null);
    expect(commandCharacters(registered as Parameters<typeof commandCharacters>[0])).toBeLessThanOrEqual(
      MAX_COMMAND_CHARACTERS,
    );
    const edit = registered?.options?.find((o) => o.name === 'edit');
    expect(commandCharacters(edit as Parameters<typeof commandCharacters>[0])).toBe(1007);
    const leftOut = many.bot.started.notOffered.map((entry) => entry.path);
    expect(leftOut).toContain(`create ${kind(30)}`);
    // Its tasks still run (an import or an older bot made them), and edit reaches them.
    await many.bot.runtime.create(many.a.id, {
      name: 'late',
      kind: kind(30),
      options: { text: 'old' },
      schedule: { kind: 'interval', seconds: 3600 },
      channelId: many.a.channels.general!,
      createdBy: many.a.admin,
    });
    expect(await many.run('edit', { name: 'late', option: 'text', value: 'new' })).toBe(
      '**late**: text "old" → "new".',
    );
  });
});
