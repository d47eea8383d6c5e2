// /task export and /task import end to end: the real bot sends the file, the emulator keeps it, and another
// server imports it, mapping channels and roles by name.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSession } from '../../scripts/sandbox/session.js';
import { NEEDS_MANAGE_SERVER } from '../../src/discord/router.js';
import { invoke, startTestBot, type TestBot, type TestGuild } from './helpers.js';

let t: TestBot;
beforeAll(async () => {
  t = await startTestBot();
});
afterAll(async () => {
  await t?.close();
});

/** Runs /task export in `guild` and returns the reply's text and the file it carried (parsed). */
async function exportFrom(guild: TestGuild) {
  const reply = await invoke(t.emulator, 'export', {}, { guild });
  const [file] = reply.attachments;
  return {
    content: reply.content,
    filename: file?.filename,
    text: file ? t.emulator.downloadAttachment(file.url).toString() : undefined,
  };
}

/** Uploads `content` as a file and runs /task import with it in `guild`. */
function importInto(guild: TestGuild, content: string | Uint8Array, filename = 'tasks.json') {
  const file = t.emulator.uploadAttachment({ filename, content });
  return t.run('import', { file }, { guild });
}

const taskNames = async (guild: TestGuild) =>
  [...(await t.run('list', {}, { guild })).matchAll(/\*\*([a-z0-9_-]+)\*\* \(/g)].map((m) => m[1]);

describe('/task export', () => {
  it('says so when there is nothing to export, and sends no file', async () => {
    const fresh = await exportFrom(t.b);
    expect(fresh.content).toBe('This server has no tasks to export yet.');
    expect(fresh.filename).toBeUndefined();
  });

  it('sends the definitions as a JSON file, names instead of ids, and another server imports them', async () => {
    const { a, b } = t;
    await t.run('create reminder', {
      name: 'standup',
      channel: a.channels.announcements!,
      at: '09:00',
      timezone: 'Europe/Paris',
      message: 'Stand-up!',
      role: a.roles.Crew!,
      count: 5,
    });
    // A counter posting (not renaming its channel, whose name would then be the counter's text).
    await t.run('create counter', {
      name: 'members',
      channel: a.channels.general!,
      every: '10m',
      template: 'Members: {members}',
      target: 'message',
    });
    await t.run('create reminder', {
      name: 'paused',
      channel: a.channels.general!,
      every: '1h',
      message: 'x',
      catchup: 'once',
      timeout: '30s',
    });
    await t.run('stop', { name: 'paused' });

    const exported = await exportFrom(a);
    expect(exported.content).toMatch(/^Here are this server's 3 tasks: definitions only, no history\./);
    expect(exported.filename).toMatch(/^metronome-tasks-a-\d{4}-\d\d-\d\d\.json$/);
    const file = JSON.parse(exported.text!);
    expect(file).toMatchObject({ version: 1, exportedBy: 'Metronome', server: 'a' });
    expect(file.tasks).toEqual([
      expect.objectContaining({
        name: 'members',
        kind: 'counter',
        channel: '#general',
        state: 'running',
        options: { template: 'Members: {members}', target: 'message' },
      }),
      expect.objectContaining({ name: 'paused', state: 'stopped', catchUp: 'once', timeoutMs: 30_000 }),
      {
        name: 'standup',
        kind: 'reminder',
        state: 'running',
        channel: '#announcements',
        schedule: { kind: 'times', times: ['09:00'], timeZone: 'Europe/Paris' },
        count: 5,
        catchUp: 'skip',
        timeoutMs: 60_000,
        options: { message: 'Stand-up!', role: '@Crew' },
      },
    ]);
    for (const id of [a.id, ...Object.values(a.channels), ...Object.values(a.roles), a.admin])
      expect(exported.text).not.toContain(id);

    const imported = await importInto(b, exported.text!);
    expect(imported).toBe(
      [
        'Imported 3 tasks:',
        `• **members** (counter) in <#${b.channels.general}>, every 10m, running`,
        `• **paused** (reminder) in <#${b.channels.general}>, every 1h, stopped (it was stopped when exported; \`/task start paused\` runs it)`,
        `• **standup** (reminder) in <#${b.channels.announcements}>, daily at 09:00 (Europe/Paris), running`,
      ].join('\n'),
    );
    const info = await t.run('info', { name: 'standup' }, { guild: b });
    expect(info).toContain(`<@&${b.roles.Crew}>`);
    expect(await taskNames(b)).toEqual(['members', 'paused', 'standup']);
  });
});

describe('/task import', () => {
  const file = (tasks: unknown[]) => JSON.stringify({ version: 1, tasks });
  const reminder = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    kind: 'reminder',
    state: 'running',
    channel: '#general',
    schedule: { kind: 'interval', seconds: 3600 },
    options: { message: 'hi' },
    ...extra,
  });

  it('lists every problem, task by task, and creates none of the tasks', async () => {
    const before = await taskNames(t.a);
    const reply = await importInto(
      t.a,
      file([
        reminder('fine-one'),
        reminder('standup'),
        reminder('qotd-daily', { kind: 'qotd' }),
        reminder('elsewhere', { channel: '#off-topic' }),
        reminder('pinger', { options: { message: 'hi', role: '@Mods' } }),
        reminder('locked-out', { channel: '#locked' }),
        reminder('too-fast', { schedule: { kind: 'interval', seconds: 2 } }),
      ]),
    );
    expect(reply).toBe(
      [
        'Nothing was imported: 6 of the 7 tasks in the file have problems. Fix them and import the file again.',
        '• **standup**: This server already has a task named "standup".',
        '• **qotd-daily**: There is no task kind "qotd" on this bot.',
        '• **elsewhere**: There is no channel named #off-topic in this server.',
        '• **pinger**: Its `role` option names @Mods, but this server has no role by that name.',
        `• **locked-out**: I can't work in <#${t.a.channels.locked}>: I need the **Send Messages** permission there.`,
        '• **too-fast**: Tasks can run at most every 10 seconds.',
      ].join('\n'),
    );
    expect(await taskNames(t.a)).toEqual(before);
  });

  it('refuses files that are not an export, one sentence each', async () => {
    const cases: [string | Uint8Array, RegExp][] = [
      ['', /^That file is empty; attach a file made by `\/task export`\.$/],
      ['{"version": 1, "tasks": [', /^That file isn't valid JSON/],
      ['name,kind\nstandup,reminder', /^That file isn't valid JSON/],
      [JSON.stringify({ name: 'standup' }), /^That file isn't a Metronome task export/],
      [
        JSON.stringify({ version: 2, tasks: [reminder('x')] }),
        /^That file is in version 2 of the export format, from a newer Metronome/,
      ],
      [file([]), /^That file has no tasks to import\.$/],
      [new Uint8Array(1024 * 1024 + 1), /^That file is 1\.1 MB; an export is at most 1 MB\.$/],
    ];
    for (const [content, expected] of cases)
      expect(await importInto(t.b, content), String(expected)).toMatch(expected);
  });

  it('refuses more tasks than the server may hold, before looking at them', async () => {
    const many = Array.from({ length: 101 }, (_, i) => reminder(`bulk-${i}`));
    expect(await importInto(t.b, file(many))).toMatch(
      /^That file has 101 tasks, but this server has \d+ of the 100 Metronome allows, so only \d+ more fit; nothing was imported\.$/,
    );
  });

  it('skips one-offs that already ran, and says so', async () => {
    const ran = { kind: 'once', at: Date.now() - 60_000, timeZone: 'UTC' };
    expect(await importInto(t.b, file([reminder('old-news', { state: 'completed', schedule: ran })]))).toBe(
      'Nothing to import: no task in the file is left to run.\n• Skipped **old-news**: a one-off that already ran.',
    );
    const reply = await importInto(
      t.b,
      file([
        reminder('old-news', { state: 'completed', schedule: ran }),
        reminder('fresh', { state: 'stopped' }),
      ]),
    );
    expect(reply).toMatch(
      /^Imported 1 task:\n• \*\*fresh\*\* .+\n• Skipped \*\*old-news\*\*: a one-off that already ran\.$/,
    );
    expect(await taskNames(t.b)).not.toContain('old-news');
  });

  it('imports a zone under its old name as its current one', async () => {
    const schedule = { kind: 'times', times: ['09:00'], timeZone: 'Europe/Kiev' };
    const reply = await importInto(t.b, file([reminder('kyiv-morning', { state: 'stopped', schedule })]));
    expect(reply).toContain('(Europe/Kyiv)');
    expect(reply).not.toContain('Kiev');
    expect(await t.run('info', { name: 'kyiv-morning' }, { guild: t.b })).toContain(
      'daily at 09:00 (Europe/Kyiv)',
    );
    expect((await exportFrom(t.b)).text).toContain('"timeZone": "Europe/Kyiv"');
  });

  it('does not even download the file of a member without Manage Server', async () => {
    const file = t.emulator.uploadAttachment({ filename: 'tasks.json', content: '{}' });
    const reply = await t.run(
      'import',
      { file },
      { guild: t.b, user: t.b.member, ignoreDefaultMemberPermissions: true },
    );
    expect(reply).toBe(NEEDS_MANAGE_SERVER);
    expect(t.emulator.requests.some((r) => r.path.includes(file))).toBe(false);
  });

  it('says so when the file cannot be downloaded', async () => {
    t.emulator.rest.faults.fail({ path: /^\/attachments\// }, { status: 404 });
    expect(await importInto(t.b, file([reminder('never')]))).toBe(
      "I couldn't download that file from Discord; try again in a moment.",
    );
    expect(await taskNames(t.b)).not.toContain('never');
  });

  it('creates tasks exported stopped as stopped, and the running ones run', async () => {
    const reply = await importInto(
      t.b,
      file([
        reminder('ticker', { schedule: { kind: 'interval', seconds: 10 }, options: { message: 'tick' } }),
        reminder('failed-one', { state: 'failed' }),
      ]),
    );
    expect(reply).toContain('• **failed-one** (reminder)');
    expect(reply).toContain('stopped (it was failed when exported; `/task start failed-one` runs it)');
    const posted = await t.emulator.waitForMessage(t.b.channels.general!, (m) => m.content === 'tick');
    expect(posted.author.id).toBe(t.emulator.world.botUser.id);
    expect(await t.run('info', { name: 'failed-one' }, { guild: t.b })).toMatch(/stopped/);
  });
});

describe('/task import of damaged files', () => {
  it('answers every field set to every wrong type with a sentence, never a failure', async () => {
    const valid = {
      name: 'mutant',
      kind: 'reminder',
      state: 'running',
      channel: '#general',
      schedule: { kind: 'interval', seconds: 3600 },
      count: null,
      catchUp: 'skip',
      timeoutMs: 60_000,
      options: { message: 'hi', role: '@Crew' },
    };
    const wrong: unknown[] = [null, 0, -1, 1.5, '', 'x', '__proto__', [], {}, true, [1, 2], { kind: 'nope' }];
    const answers = new Set<string>();
    for (const field of Object.keys(valid)) {
      for (const value of wrong) {
        const entry = { ...valid, [field]: value };
        const reply = await importInto(t.b, JSON.stringify({ version: 1, tasks: [entry] }));
        expect(reply, `${field}: ${JSON.stringify(value)}`).toMatch(
          /^(Nothing was imported: |Imported 1 task:\n).+$/s,
        );
        answers.add(reply.split('\n')[0]!);
        // One that was valid after all is created: delete it so the next one may reuse the name.
        if (reply.startsWith('Imported')) await t.run('delete', { name: 'mutant' }, { guild: t.b });
      }
    }
    expect(answers.size).toBeGreaterThan(1);
    expect(t.logs.filter((line) => line.msg === 'command failed')).toEqual([]);
  });
});

describe('the sandbox', () => {
  it('saves what /task export sends and uploads a local file for /task import', async () => {
    const printed: string[] = [];
    const session = await startSession({ print: (line) => printed.push(line) });
    try {
      await session.run('/task create reminder name:standup channel:#general every:1h message:"Hi"');
      expect(await session.run('/task export')).toBe(true);
      const saved = /📎 (metronome-tasks-demo-server-[\d-]+\.json) \((\d+) B\), saved as (\S+)$/.exec(
        printed.at(-1)!,
      );
      expect(saved).not.toBeNull();
      const [, name, size, path] = saved!;
      expect(path!.endsWith(name!)).toBe(true);
      expect(readFileSync(path!).length).toBe(Number(size));
      expect(JSON.parse(readFileSync(path!, 'utf8')).tasks[0].name).toBe('standup');

      expect(await session.run(`/task import file:${path}`)).toBe(true);
      expect(printed.at(-1)).toContain('This server already has a task named "standup".');
      expect(await session.run('/task import file:./no-such-file.json')).toBe(false);
      expect(printed.at(-1)).toMatch(/✗ there is no file \S+no-such-file\.json$/);
      expect(session.help()).toContain('/task import file:…');
      expect(session.help()).toContain('/task export');
    } finally {
      await session.close();
    }
  });
});
