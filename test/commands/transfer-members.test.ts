// /task export and /task import of tasks that name members, with the client caching no member but the bot's
// own: export asks Discord for exactly the members its tasks name (REQUEST_GUILD_MEMBERS by user_ids), import
// asks one username query per name the file gives and matches the name exactly; a user who left is written by
// their username, with a note. On an ordinary server and on one of the emulator's large synthetic ones.
import { GatewayOpcodes } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guildDirectory } from '../../src/discord/transfer-directory.js';
import { eventually } from '../handlers/helpers.js';
import { invoke, startTestBot, type TestBot, type TestGuild } from './helpers.js';

const MEMBER_HANDLERS = new URL('./fixtures/member-handlers', import.meta.url).pathname;

let t: TestBot;
/** A server of 1,000 members, all but its owner, admin and the bot synthetic (`user-<n>`), none cached. */
let big: TestGuild;

beforeAll(async () => {
  t = await startTestBot({ handlersDir: MEMBER_HANDLERS });
  const handle = t.emulator.world.createGuild({
    name: 'big',
    memberCount: 1_000,
    roles: [{ name: 'Admins', permissions: ['ManageGuild'] }],
    channels: [{ name: 'general' }],
    members: [{ user: { username: 'big-admin' }, roles: ['Admins'] }],
  });
  big = { ...handle, admin: handle.members['big-admin']!, member: handle.members['big-admin']! };
  await t.emulator.gateway.frames.waitFor(
    (f) => f.t === 'GUILD_CREATE' && (f.d as { id: string }).id === big.id,
    'the big server sent to the bot',
  );
});
afterAll(async () => {
  await t?.close();
});

type MemberRequest = { guild_id: string; user_ids?: string[]; query?: string; limit?: number };

/** Runs `action` and returns it with the member requests (op 8) the bot sent Discord meanwhile. */
async function withMemberRequests<T>(action: () => Promise<T>): Promise<[T, MemberRequest[]]> {
  const requests: MemberRequest[] = [];
  const stop = t.emulator.gateway.frames.subscribe((f) => {
    if (f.direction === 'received' && f.op === GatewayOpcodes.RequestGuildMembers)
      requests.push(f.d as MemberRequest);
  });
  try {
    return [await action(), requests];
  } finally {
    stop();
  }
}

async function exportFrom(guild: TestGuild) {
  const reply = await invoke(t.emulator, 'export', {}, { guild });
  const [file] = reply.attachments;
  return {
    content: reply.content,
    file: file ? JSON.parse(t.emulator.downloadAttachment(file.url).toString()) : undefined,
  };
}

function importInto(guild: TestGuild, content: string) {
  const file = t.emulator.uploadAttachment({ filename: 'tasks.json', content });
  return t.run('import', { file }, { guild });
}

const greeter = (name: string, options: Record<string, unknown>) => ({
  name,
  kind: 'greeter',
  state: 'stopped',
  channel: '#general',
  schedule: { kind: 'interval', seconds: 3600 },
  options,
});
const fileOf = (...tasks: unknown[]) => JSON.stringify({ version: 1, tasks });

async function optionsOf(guild: TestGuild, name: string) {
  return (await t.bot.runtime.list(guild.id)).find((task) => task.name === name)?.options;
}

const cachedMembers = (guild: TestGuild) => [
  ...t.bot.client.guilds.cache.get(guild.id)!.members.cache.keys(),
];

describe('members in /task export and import', () => {
  it('exports a named member by username, fetching only that member, and another server imports it', async () => {
    const { a, b } = t;
    // a's plain member is in b too: the same user, found there by name.
    t.emulator.world.addMember(b.id, { user: a.member });
    await t.run('create greeter', {
      name: 'hello',
      channel: a.channels.general!,
      every: '1h',
      member: a.member,
      ping: a.roles.Crew!,
    });

    const [exported, asked] = await withMemberRequests(() => exportFrom(a));
    // The mentionable option holds a role: only the user option's member is asked for.
    expect(asked).toEqual([expect.objectContaining({ guild_id: a.id, user_ids: [a.member] })]);
    expect(exported.content).not.toContain('•');
    expect(exported.file.tasks).toEqual([
      expect.objectContaining({ name: 'hello', options: { member: '@a-member', ping: '@Crew' } }),
    ]);
    expect(JSON.stringify(exported.file)).not.toContain(a.member);

    const [reply, queried] = await withMemberRequests(() => importInto(b, JSON.stringify(exported.file)));
    expect(reply).toMatch(/^Imported 1 task:\n• \*\*hello\*\* \(greeter\)/);
    // One username query for the member; @Crew is a role of b, so no member is asked for it.
    expect(queried).toEqual([expect.objectContaining({ guild_id: b.id, query: 'a-member', limit: 100 })]);
    expect(await optionsOf(b, 'hello')).toEqual({ member: a.member, ping: b.roles.Crew });
    // What was fetched named the members and was not kept.
    expect(cachedMembers(a)).toEqual([t.emulator.world.botUser.id]);
    expect(cachedMembers(b)).toEqual([t.emulator.world.botUser.id]);
  });

  it('on a large server, asks for the named member only and imports the exact name among its prefix matches', async () => {
    const { world } = t.emulator;
    // user-<n> for n = 12 shares its prefix with user-120 … user-129: Discord's query answers all of them.
    const target = world.syntheticMemberId(big.id, 12);
    const username = world.user(target).username;
    expect(username).toBe('user-12');
    const pinged = world.syntheticMemberId(big.id, 500);
    await t.run(
      'create greeter',
      { name: 'welcome', channel: big.channels.general!, every: '1h', member: target, ping: pinged },
      { guild: big },
    );

    const [exported, asked] = await withMemberRequests(() => exportFrom(big));
    expect(asked).toHaveLength(1);
    expect(asked[0]!.user_ids?.toSorted()).toEqual([target, pinged].toSorted());
    expect(asked[0]!.query ?? '').toBe('');
    expect(exported.file.tasks[0].options).toEqual({
      member: '@user-12',
      ping: `@${world.user(pinged).username}`,
    });

    await t.run('delete', { name: 'welcome' }, { guild: big });
    const [reply, queried] = await withMemberRequests(() => importInto(big, JSON.stringify(exported.file)));
    expect(reply).toMatch(/^Imported 1 task:/);
    expect(queried.map((r) => [r.query, r.limit]).toSorted()).toEqual(
      [
        ['user-12', 100],
        [world.user(pinged).username, 100],
      ].toSorted(),
    );
    expect(await optionsOf(big, 'welcome')).toEqual({ member: target, ping: pinged });
    expect(cachedMembers(big)).toEqual([world.botUser.id]);
  });

  it('matches a name in another case, as Discord’s query does', async () => {
    const reply = await importInto(t.b, fileOf(greeter('shouting', { member: '@A-Member' })));
    expect(reply).toMatch(/^Imported 1 task:/);
    expect(await optionsOf(t.b, 'shouting')).toEqual({ member: t.a.member });
  });

  it('refuses a name no member has, or several have, with the existing sentences, and creates nothing', async () => {
    const { world } = t.emulator;
    world.addMember(t.b.id, { user: { username: 'twin' } });
    world.addMember(t.b.id, { user: { username: 'twin' } });
    const before = await t.bot.runtime.list(t.b.id);
    const [reply, queried] = await withMemberRequests(() =>
      importInto(
        t.b,
        fileOf(
          greeter('nobody', { member: '@nobody' }),
          greeter('twins', { member: '@twin' }),
          greeter('ghost', { member: '@a-member', ping: '@ghost' }),
          greeter('blank', { member: '@' }),
          greeter('number', { member: 7 }),
        ),
      ),
    );
    expect(reply).toBe(
      [
        'Nothing was imported: 5 of the 5 tasks in the file have problems. Fix them and import the file again.',
        '• **nobody**: Its `member` option names @nobody, but this server has no member by that name.',
        '• **twins**: Its `member` option names @twin, but 2 members here have that name; rename all but one.',
        '• **ghost**: Its `ping` option names @ghost, but this server has no role or member by that name.',
        '• **blank**: Its `member` option names @, but this server has no member by that name.',
        '• **number**: Its `member` should be a name like "@Crew" or "#general".',
      ].join('\n'),
    );
    // One query per distinct name; none for the empty name (it would list everyone) or the number.
    expect(queried.map((r) => r.query).toSorted()).toEqual(['a-member', 'ghost', 'nobody', 'twin']);
    expect(await t.bot.runtime.list(t.b.id)).toEqual(before);
  });

  it('writes a user who left by their username, with a note, and leaves out a deleted role', async () => {
    const { world } = t.emulator;
    const leaver = world.addMember(t.a.id, { user: { username: 'leaver' } });
    const role = world.createRole(t.a.id, { name: 'Temp', mentionable: true });
    await t.run('create greeter', {
      name: 'farewell',
      channel: t.a.channels.general!,
      every: '1h',
      member: leaver,
      ping: role,
    });
    world.removeMember(t.a.id, leaver);
    world.deleteRole(role);

    const [exported, asked] = await withMemberRequests(() => exportFrom(t.a));
    expect(asked).toHaveLength(1);
    expect(asked[0]!.user_ids?.toSorted()).toEqual([t.a.member, leaver, role].toSorted());
    expect(exported.file.tasks.find((task: { name: string }) => task.name === 'farewell').options).toEqual({
      member: '@leaver',
    });
    expect(exported.content).toContain(
      '• **farewell**: its `member` names @leaver, who is no longer a member of this server.',
    );
    expect(exported.content).toContain(
      '• **farewell**: its `ping` no longer exists here, so the file leaves it out.',
    );
  });

  it('says so when Discord fails to say who a user who left is', async () => {
    t.emulator.rest.faults.fail({ path: /^\/users\/\d+$/ }, { status: 403, times: 1 });
    expect((await exportFrom(t.a)).content).toBe(
      "I couldn't look up the members these tasks name: Discord answered with an error; try again in a moment.",
    );
    expect(t.logs.filter((line) => line.msg === 'command failed')).toEqual([]);
  });

  // Last: it takes the gateway down and waits for the bot to come back.
  it('says so when Discord does not send the members in time', { timeout: 60_000 }, async () => {
    const guild = t.bot.client.guilds.cache.get(t.a.id)!;
    t.emulator.gateway.refuseConnections();
    // Once the bot is trying to reconnect, a member request waits for a connection that does not come.
    await eventually(() => expect(t.emulator.gateway.refusedConnections).toBeGreaterThan(0), 20_000);
    const byId = await guildDirectory(guild, { ids: [t.a.member] }, 50);
    const byName = await guildDirectory(guild, { names: ['a-member'] }, 50);
    const late =
      "I couldn't look up the members these tasks name: Discord didn't answer in time; try again in a moment.";
    expect(byId).toEqual({ ok: false, error: late });
    expect(byName).toEqual({ ok: false, error: late });
    // Nothing to fetch asks nothing, so it cannot fail.
    expect((await guildDirectory(guild, { names: [''] }, 50)).ok).toBe(true);
    // discord.js retries the connection with backoff: the resume may take some seconds on a loaded machine.
    const back = t.emulator.gateway.waitForNextSession({ timeoutMs: 30_000 });
    t.emulator.gateway.acceptConnections();
    await back;
    expect(await t.run('list', {}, { guild: t.b })).toContain('**hello**');
  });
});
