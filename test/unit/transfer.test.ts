import { ChannelType } from 'discord-api-types/v10';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  buildExport,
  type ExportedTask,
  exportFileName,
  MAX_IMPORT_BYTES,
  type NameLookup,
  overLimit,
  readExportFile,
  type ServerDirectory,
} from '../../src/discord/transfer.js';
import { type PlannedTask, planImport } from '../../src/discord/transfer-import.js';
import reminder from '../../src/handlers/builtin/reminder.js';
import { defineHandler, type Handler } from '../../src/handlers/define.js';
import type { Task } from '../../src/tasks/index.js';

const NOW = Date.UTC(2026, 11, 1, 13, 0);
/** Snowflake-shaped ids (the reminder checks its role is one): id(101) is 100000000000000101. */
const id = (n: number) => `1000000000000${String(n).padStart(5, '0')}`;

/** A kind with every sort of reference option, to check each is written by name and read back. */
const relay = defineHandler({
  kind: 'relay',
  description: 'Copies posts',
  options: z.object({
    from: z.string(),
    by: z.string().optional(),
    ping: z.string().optional(),
    note: z.string().optional(),
  }),
  slashOptions: (b) =>
    b
      .addChannelOption((o) =>
        o.setName('from').setDescription('Source').setRequired(true).addChannelTypes(ChannelType.GuildText),
      )
      .addUserOption((o) => o.setName('by').setDescription('Author'))
      .addMentionableOption((o) => o.setName('ping').setDescription('Who to ping'))
      .addStringOption((o) => o.setName('note').setDescription('Text')),
  async run() {},
}) as Handler;

const handlers = new Map<string, Handler>([
  ['reminder', reminder as Handler],
  ['relay', relay],
]);

interface FakeServer {
  id: string;
  channels: { id: string; name: string; type: ChannelType }[];
  roles: { id: string; name: string }[];
  members: { id: string; name: string }[];
}

function lookup(ids: string[]): NameLookup {
  if (ids.length === 1) return { id: ids[0]! };
  return ids.length === 0 ? { missing: true } : { several: ids.length };
}

function directoryOf(server: FakeServer): ServerDirectory {
  return {
    channelName: (id) => server.channels.find((c) => c.id === id)?.name,
    channelByName: (name, types) =>
      lookup(
        server.channels
          .filter((c) => c.name === name && (types === undefined || types.includes(c.type)))
          .map((c) => c.id),
      ),
    roleName: (id) => (id === server.id ? 'everyone' : server.roles.find((r) => r.id === id)?.name),
    roleByName: (name) =>
      name === 'everyone'
        ? { id: server.id }
        : lookup(server.roles.filter((r) => r.name === name).map((r) => r.id)),
    memberName: (id) => server.members.find((m) => m.id === id)?.name,
    memberByName: (name) => lookup(server.members.filter((m) => m.name === name).map((m) => m.id)),
  };
}

const source: FakeServer = {
  id: id(100),
  channels: [
    { id: id(101), name: 'general', type: ChannelType.GuildText },
    { id: id(102), name: 'news', type: ChannelType.GuildText },
    { id: id(103), name: 'stats', type: ChannelType.GuildVoice },
  ],
  roles: [{ id: id(111), name: 'Crew' }],
  members: [{ id: id(121), name: 'alice' }],
};

// The same names under other ids: what another server looks like to an import.
const target: FakeServer = {
  id: id(200),
  channels: [
    { id: id(201), name: 'general', type: ChannelType.GuildText },
    { id: id(202), name: 'news', type: ChannelType.GuildText },
    { id: id(203), name: 'stats', type: ChannelType.GuildVoice },
    { id: id(204), name: 'archive', type: ChannelType.GuildCategory },
  ],
  roles: [{ id: id(211), name: 'Crew' }],
  members: [{ id: id(221), name: 'alice' }],
};

function task(overrides: Partial<Task>): Task {
  return {
    id: 1,
    guildId: source.id,
    name: 'standup',
    kind: 'reminder',
    options: { message: 'Stand-up!' },
    schedule: { kind: 'times', times: ['09:00'], timeZone: 'Europe/Paris' },
    count: null,
    catchUp: 'skip',
    state: 'running',
    currentLoop: 12,
    lastRunAt: NOW - 1000,
    nextRunAt: NOW + 1000,
    lastError: 'boom',
    timeoutMs: 60_000,
    channelId: id(101),
    createdBy: id(121),
    createdAt: NOW - 10_000,
    updatedAt: NOW - 5_000,
    ...overrides,
  };
}

const exportContext = (server = source) => ({
  handler: (kind: string) => handlers.get(kind),
  directory: directoryOf(server),
  serverName: 'Source Server',
  nowMs: NOW,
  exportedBy: 'Metronome',
});

const importContext = (existing: string[] = [], server = target) => ({
  handler: (kind: string) => handlers.get(kind),
  directory: directoryOf(server),
  existingNames: new Set(existing),
  nowMs: NOW,
});

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function entries(value: unknown): unknown[] {
  const read = readExportFile(bytes(value));
  if (!read.ok) throw new Error(read.error);
  return read.value;
}

const problemsOf = (plan: PlannedTask[]) => Object.fromEntries(plan.map((p) => [p.label, p.problems]));

describe('export', () => {
  const tasks = [
    task({ name: 'standup', options: { message: 'Stand-up!', role: id(111), title: 'Daily' } }),
    task({
      name: 'everyone',
      options: { message: 'Hi all', role: source.id },
      state: 'stopped',
      count: 3,
      catchUp: 'once',
      timeoutMs: 30_000,
      schedule: { kind: 'interval', seconds: 3600 },
    }),
    task({
      name: 'copy',
      kind: 'relay',
      channelId: id(102),
      options: { from: id(101), by: id(121), ping: id(111) },
    }),
  ];

  it('writes definitions only, by name, sorted, with the version and what made it', () => {
    const { file, notes } = buildExport(tasks, exportContext());
    expect(notes).toEqual([]);
    expect(file).toMatchObject({
      version: 1,
      exportedBy: 'Metronome',
      exportedAt: '2026-12-01T13:00:00.000Z',
      server: 'Source Server',
    });
    expect(file.tasks.map((t) => t.name)).toEqual(['copy', 'everyone', 'standup']);
    expect(file.tasks[1]).toEqual({
      name: 'everyone',
      kind: 'reminder',
      state: 'stopped',
      channel: '#general',
      schedule: { kind: 'interval', seconds: 3600 },
      count: 3,
      catchUp: 'once',
      timeoutMs: 30_000,
      options: { message: 'Hi all', role: '@everyone' },
    });
    expect(file.tasks[0]!.options).toEqual({ from: '#general', by: '@alice', ping: '@Crew' });
    expect(file.tasks[2]!.options).toEqual({ message: 'Stand-up!', role: '@Crew', title: 'Daily' });
  });

  it('carries no id of the server, no history and no progress', () => {
    const text = JSON.stringify(buildExport(tasks, exportContext()).file);
    for (const known of [id(100), id(101), id(102), id(111), id(121)])
      expect(text).not.toContain(`"${known}"`);
    for (const field of ['currentLoop', 'lastRunAt', 'nextRunAt', 'lastError', 'createdBy', 'guildId'])
      expect(text).not.toContain(field);
  });

  it('leaves out what no longer exists, and says so', () => {
    const { file, notes } = buildExport(
      [
        task({ name: 'gone', channelId: id(999), options: { message: 'x', role: id(998) } }),
        task({ name: 'custom', kind: 'qotd', options: { channel: id(101) } }),
      ],
      exportContext(),
    );
    const gone = file.tasks.find((t) => t.name === 'gone')!;
    expect(gone.channel).toBeNull();
    expect(gone.options).toEqual({ message: 'x' });
    expect(file.tasks.find((t) => t.name === 'custom')!.options).toEqual({ channel: id(101) });
    expect(notes).toEqual([
      expect.stringContaining('**custom**: its kind (qotd) is not loaded'),
      expect.stringContaining('**gone**: its channel no longer exists'),
      expect.stringContaining('**gone**: its `role` no longer exists'),
    ]);
  });

  it('names the file after the server and the day', () => {
    expect(exportFileName('My Server! ✨', NOW)).toBe('metronome-tasks-my-server-2026-12-01.json');
    expect(exportFileName('✨✨', NOW)).toBe('metronome-tasks-server-2026-12-01.json');
  });

  it('round-trips into another server: the same names, that server’s ids', () => {
    const { file } = buildExport(tasks, exportContext());
    const plan = planImport(entries(JSON.parse(JSON.stringify(file))), importContext());
    expect(problemsOf(plan)).toEqual({ copy: [], everyone: [], standup: [] });
    const byName = Object.fromEntries(plan.map((p) => [p.label, p.definition!]));
    expect(byName.copy).toMatchObject({
      channelId: id(202),
      options: { from: id(201), by: id(221), ping: id(211) },
    });
    expect(byName.everyone).toEqual({
      name: 'everyone',
      kind: 'reminder',
      options: { message: 'Hi all', role: target.id },
      schedule: { kind: 'interval', seconds: 3600 },
      count: 3,
      catchUp: 'once',
      timeoutMs: 30_000,
      channelId: id(201),
      start: false,
    });
    expect(byName.standup).toMatchObject({ start: true, options: { role: id(211) } });
  });
});

describe('reading an import file', () => {
  const valid = { version: 1, tasks: [{}] };

  it.each([
    ['an empty file', new Uint8Array(), /is empty/],
    ['only spaces', new TextEncoder().encode('  \n'), /is empty/],
    ['text that is not JSON', new TextEncoder().encode('name,kind\nx,y'), /isn't valid JSON/],
    ['JSON of another sort', bytes({ hello: 'world' }), /isn't a Metronome task export/],
    ['a JSON array', bytes([1, 2]), /isn't a Metronome task export/],
    ['tasks that are not a list', bytes({ version: 1, tasks: {} }), /isn't a Metronome task export/],
    ['a newer version', bytes({ version: 2, tasks: [{}] }), /version 2 .*newer Metronome.*reads version 1/],
    ['a version that is text', bytes({ version: '1', tasks: [{}] }), /version "1" of the export format;/],
    ['no tasks', bytes({ version: 1, tasks: [] }), /has no tasks/],
    ['too many bytes', new Uint8Array(MAX_IMPORT_BYTES + 1), /is 1\.1 MB; an export is at most 1 MB\./],
  ])('refuses %s with a sentence', (_what, input, why) => {
    const read = readExportFile(input);
    expect(read.ok).toBe(false);
    if (!read.ok) expect(read.error).toMatch(why);
  });

  it('reads a file with a byte-order mark', () => {
    const text = `\uFEFF${JSON.stringify(valid)}`;
    expect(readExportFile(new TextEncoder().encode(text))).toEqual({ ok: true, value: [{}] });
  });

  it('refuses more tasks than the server has room for, saying how many fit', () => {
    expect(overLimit(5, 95, 100)).toBeUndefined();
    expect(overLimit(6, 95, 100)).toBe(
      'That file has 6 tasks, but this server has 95 of the 100 Metronome allows, so only 5 more fit; nothing was imported.',
    );
    expect(overLimit(1, 120, 100)).toMatch(/only 0 more fit/);
  });
});

describe('checking each task of an import', () => {
  const entry = (overrides: { [K in keyof ExportedTask]?: unknown } = {}) => ({
    name: 'standup',
    kind: 'reminder',
    state: 'running',
    channel: '#general',
    schedule: { kind: 'times', times: ['09:00'], timeZone: 'UTC' },
    options: { message: 'Hi' },
    ...overrides,
  });

  it('fills the defaults a hand-written entry leaves out', () => {
    const [planned] = planImport(
      [
        {
          name: 'a',
          kind: 'reminder',
          channel: 'general',
          schedule: { kind: 'interval', seconds: 60 },
          options: { message: 'x' },
        },
      ],
      importContext(),
    );
    expect(planned!.definition).toMatchObject({
      count: null,
      catchUp: 'skip',
      timeoutMs: 60_000,
      start: false,
    });
  });

  it('reports every problem of every task, each as a sentence', () => {
    const plan = planImport(
      [
        entry({ name: 'taken' }),
        entry({ name: 'Bad Name' }),
        entry({ name: 'twice' }),
        entry({ name: 'twice' }),
        entry({ name: 'qotd', kind: 'qotd' }),
        entry({ name: 'nowhere', channel: '#off-topic', options: { message: 'x', role: '@Mods' } }),
        entry({ name: 'archive', channel: '#archive' }),
        entry({ name: 'deleted', channel: null }),
        entry({ name: 'empty', options: { message: '   ' } }),
        entry({ name: 'fast', schedule: { kind: 'interval', seconds: 1 } }),
        entry({ name: 'past', schedule: { kind: 'once', at: NOW - 60_000, timeZone: 'UTC' } }),
        entry({ name: 'zone', schedule: { kind: 'times', times: ['09:00'], timeZone: 'Mars/Base' } }),
        entry({ name: 'counts', count: 0, catchUp: 'twice', timeoutMs: 3_600_000 }),
        entry({ name: 'copy', kind: 'relay', options: { from: '#stats', by: '@nobody', ping: 7 } }),
        { kind: 'reminder' },
        'not an object',
        entry({ name: 'state', state: 'paused' }),
        entry({ name: 'bad-types', channel: 5, count: '3', options: [] }),
      ],
      importContext(['taken']),
    );
    expect(problemsOf(plan)).toEqual({
      taken: ['This server already has a task named "taken".'],
      'task 2': [expect.stringMatching(/^"Bad Name" is not a valid task name/)],
      twice: ['The file has more than one task named "twice".'],
      qotd: ['There is no task kind "qotd" on this bot.'],
      nowhere: [
        'There is no channel named #off-topic in this server.',
        'Its `role` option names @Mods, but this server has no role by that name.',
      ],
      archive: ['There is no channel named #archive in this server.'],
      deleted: [expect.stringMatching(/^It has no channel/)],
      empty: [
        expect.stringMatching(/^The `message` option is not valid for a reminder task: the message is empty/),
      ],
      fast: ['Tasks can run at most every 10 seconds.'],
      past: ['That time has already passed; pick one in the future.'],
      zone: [expect.stringMatching(/unknown time zone/)],
      counts: [
        expect.stringMatching(/count must be a whole number/),
        expect.stringMatching(/catch-up policy must be "skip" or "once"/),
        expect.stringMatching(/timeout must be between/),
      ],
      copy: [
        'Its `from` option names #stats, but this server has no channel by that name.',
        'Its `by` option names @nobody, but this server has no member by that name.',
        'Its `ping` should be a name like "@Crew" or "#general".',
      ],
      'task 15': [
        'Its `name` should be a task name like "standup".',
        'Its `channel` should be a channel name like "#general".',
        'Its `schedule` should be a schedule like {"kind": "interval", "seconds": 3600}.',
      ],
      'task 16': ['It is not a task: each entry of `tasks` is an object.'],
      state: ['Its `state` should be one of running, stopped, cancelled, failed or completed.'],
      'bad-types': [
        'Its `channel` should be a channel name like "#general".',
        'Its `count` should be a whole number, or null for forever.',
        "Its `options` should be an object of the kind's options.",
      ],
    });
    expect(plan.every((p) => p.definition === undefined)).toBe(true);
  });

  it('skips a completed one-off whose time has passed, but refuses a past one-off still to run', () => {
    const past = { kind: 'once', at: NOW - 60_000, timeZone: 'UTC' };
    const [done, pending] = planImport(
      [
        entry({ name: 'done', state: 'completed', schedule: past }),
        entry({ name: 'pending', schedule: past }),
      ],
      importContext(),
    );
    expect(done).toMatchObject({ problems: [], skipped: 'a one-off that already ran' });
    expect(done!.definition).toBeUndefined();
    expect(pending!.problems).toEqual(['That time has already passed; pick one in the future.']);
  });

  it('refuses a name shared by several channels or roles rather than guessing', () => {
    const crowded: FakeServer = {
      ...target,
      channels: [...target.channels, { id: id(209), name: 'general', type: ChannelType.GuildText }],
      roles: [...target.roles, { id: id(219), name: 'Crew' }],
    };
    const [planned] = planImport(
      [entry({ options: { message: 'x', role: '@Crew' } })],
      importContext([], crowded),
    );
    expect(planned!.problems).toEqual([
      '2 channels here are named #general; rename all but one.',
      'Its `role` option names @Crew, but 2 roles here have that name; rename all but one.',
    ]);
  });

  it('takes names with or without their # or @', () => {
    const [planned] = planImport(
      [entry({ channel: 'news', options: { message: 'x', role: 'Crew' } })],
      importContext(),
    );
    expect(planned!.definition).toMatchObject({ channelId: id(202), options: { role: id(211) } });
  });
});
