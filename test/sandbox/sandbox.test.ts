// `npm run sandbox -- --script FILE` as a user runs it, and the prompt's parser.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ApplicationCommandOptionType } from 'discord-api-types/v10';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCommandLine, splitWords } from '../../scripts/sandbox/parse.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'metronome-sandbox-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function sandbox(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const path = join(dir, `script-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(path, script);
  try {
    const { stdout, stderr } = await promisify(execFile)(
      join(ROOT, 'node_modules/.bin/tsx'),
      [join(ROOT, 'scripts/sandbox.ts'), '--script', path],
      { cwd: ROOT, env: { PATH: process.env.PATH }, timeout: 15_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('npm run sandbox -- --script', () => {
  it('runs a script against the demo server and prints replies and channel posts', async () => {
    const { code, stdout, stderr } = await sandbox(
      [
        '# create, look, delete',
        '/task create reminder name:standup channel:#general every:10s count:2 message:"Stand-up time!"',
        'wait 200ms',
        '/task list',
        '/task info name:standup',
        '/task delete name:standup',
        '/task list',
      ].join('\n'),
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('> /task create reminder name:standup');
    expect(stdout).toMatch(
      /\[\d\d:\d\d:\d\d\] \(only you\) Created standup, a reminder task in #general running every 10s, 2 times\./,
    );
    expect(stdout).toMatch(/\[\d\d:\d\d:\d\d\] #general Metronome: Stand-up time!/);
    expect(stdout).toContain('• standup (reminder) running, next in');
    expect(stdout).toContain('Progress: 1 of 2 runs done');
    expect(stdout).toContain('Deleted standup and its history.');
    expect(stdout).toContain('This server has no tasks yet.');
    expect(stdout).not.toContain('<t:');
  }, 20_000);

  it('exits 1 when a line cannot run', async () => {
    const { code, stdout } = await sandbox('/task list\n/task create reminder name:x colour:red\n');
    expect(code).toBe(1);
    expect(stdout).toContain('✗ unknown option "colour"');
  }, 20_000);
});

describe('the prompt parser', () => {
  const guild = {
    id: '1',
    everyoneRoleId: '1',
    ownerId: '2',
    botRoleId: null,
    roles: { Crew: '100000000000000001' },
    channels: { general: '100000000000000002' },
    members: { alice: '100000000000000003' },
  };
  const definition = {
    name: 'task',
    options: [
      { type: ApplicationCommandOptionType.Subcommand, name: 'list' },
      {
        type: ApplicationCommandOptionType.SubcommandGroup,
        name: 'create',
        options: [
          {
            type: ApplicationCommandOptionType.Subcommand,
            name: 'reminder',
            options: [
              { type: ApplicationCommandOptionType.String, name: 'message' },
              { type: ApplicationCommandOptionType.Channel, name: 'channel' },
              { type: ApplicationCommandOptionType.Role, name: 'role' },
              { type: ApplicationCommandOptionType.Integer, name: 'count' },
              { type: ApplicationCommandOptionType.String, name: 'at' },
            ],
          },
        ],
      },
    ],
  } as unknown as Parameters<typeof parseCommandLine>[1];

  it('splits words outside quotes', () => {
    expect(splitWords(`a b:"c d" e:'f "g"' h:"i \\" j"`)).toEqual(['a', 'b:c d', 'e:f "g"', 'h:i " j']);
    expect(() => splitWords('a:"open')).toThrow('not closed');
  });

  it('maps a line to an invocation with typed option values', () => {
    const parsed = parseCommandLine(
      '/task create reminder message:"Hi there" channel:#general role:@crew count:3 at:09:00',
      definition,
      guild,
    );
    expect(parsed).toEqual({
      ok: true,
      value: {
        command: 'task',
        group: 'create',
        subcommand: 'reminder',
        options: {
          message: 'Hi there',
          channel: '100000000000000002',
          role: '100000000000000001',
          count: 3,
          at: '09:00',
        },
      },
    });
    expect(parseCommandLine('/task list', definition, guild)).toMatchObject({
      ok: true,
      value: { subcommand: 'list' },
    });
    expect(parseCommandLine('/task create', definition, guild)).toMatchObject({ ok: false });
    expect(parseCommandLine('/task create reminder count:many', definition, guild)).toEqual({
      ok: false,
      error: '"many" does not fit option count',
    });
    expect(parseCommandLine('/ping', definition, guild)).toEqual({
      ok: false,
      error: 'there is no /ping command',
    });
  });
});
