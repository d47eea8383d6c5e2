// /task list in pages: Previous / Next buttons clicked through the emulator with the real discord.js client,
// each click re-reading the tasks and editing the reply in place; only the admin who ran it may turn pages.

import Sqlite from 'better-sqlite3';
import {
  type APIActionRowComponent,
  type APIButtonComponentWithCustomId,
  type APIMessage,
  ButtonStyle,
  ComponentType,
  InteractionResponseType,
  MessageFlags,
} from 'discord-api-types/v10';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvocationError } from '../../emulator/index.js';
import { pressButton } from '../../scripts/sandbox/press.js';
import { renderControls, renderMessage } from '../../scripts/sandbox/render.js';
import { DatabaseBusyError } from '../../src/db/busy.js';
import { DATABASE_FAULT_SENTENCES } from '../../src/db/errors.js';
import type { Task } from '../../src/db/index.js';
import { clampPage, NEXT_LABEL, NOT_YOUR_PAGES, PREVIOUS_LABEL, paginate } from '../../src/discord/pages.js';
import { NEEDS_MANAGE_SERVER, SOMETHING_WENT_WRONG, STALE_COMPONENT } from '../../src/discord/router.js';
import { componentId, parseComponentId } from '../../src/discord/task-command.js';
import { invoke, startTestBot, type TestBot, type TestGuild } from './helpers.js';

let t: TestBot;
beforeAll(async () => {
  t = await startTestBot();
});
afterAll(async () => {
  await t?.close();
});

const name = (i: number) => `task-${String(i).padStart(3, '0')}`;

/** Tasks made straight in the runtime: the list, not create, is under test. Stopped, so nothing runs. */
async function createTasks(guild: TestGuild, names: string[]): Promise<void> {
  for (const taskName of names) {
    await t.bot.runtime.create(guild.id, {
      name: taskName,
      kind: 'reminder',
      options: { message: `hello from ${taskName}` },
      schedule: { kind: 'interval', seconds: 3600 },
      channelId: guild.channels.general!,
      createdBy: guild.admin,
      start: false,
    });
  }
}

async function deleteTasks(guild: TestGuild, names: string[]): Promise<void> {
  for (const taskName of names) await t.bot.runtime.delete(guild.id, taskName);
}

function buttonsOf(message: APIMessage): APIButtonComponentWithCustomId[] {
  return (message.components ?? []).flatMap((row) =>
    (row as APIActionRowComponent<APIButtonComponentWithCustomId>).components.filter(
      (c) => c.type === ComponentType.Button,
    ),
  );
}

function button(message: APIMessage, label: string): APIButtonComponentWithCustomId {
  const found = buttonsOf(message).find((b) => b.label === label);
  if (!found) throw new Error(`no "${label}" button on: ${message.content}`);
  return found;
}

const namesOn = (message: APIMessage) =>
  [...message.content.matchAll(/• \*\*([a-z0-9_-]+)\*\*/g)].map((m) => m[1]);

/** Clicks a button as `user` and resolves with the interaction's answer: the edited message or a reply. */
async function click(message: APIMessage, customId: string, user: string) {
  const handle = t.emulator.invokeComponent({ user, message: message.id, customId });
  const ack = await handle.waitForAck();
  const answer = await handle.waitForReply();
  return { ack: ack.type, answer, ephemeral: ((answer.flags ?? 0) & MessageFlags.Ephemeral) !== 0 };
}

/** A message from the bot, visible to everyone, carrying these buttons: what a forged click can name. */
function postButtons(guild: TestGuild, customIds: string[]): APIMessage {
  return t.emulator.world.createMessage({
    channel: guild.channels.general!,
    author: t.emulator.world.botUser.id,
    content: 'buttons',
    components: [
      {
        type: ComponentType.ActionRow,
        components: customIds.map((custom_id) => ({
          type: ComponentType.Button,
          style: ButtonStyle.Secondary,
          label: custom_id,
          custom_id,
        })),
      },
    ],
  }).message;
}

describe('/task list pages', () => {
  it('shows 100 tasks in 7 pages of 15, turned in place with Next and Previous', async () => {
    const all = Array.from({ length: 100 }, (_, i) => name(i));
    await createTasks(t.a, all);
    const first = await invoke(t.emulator, 'list', {}, { guild: t.a });
    expect(first.content.split('\n')[0]).toBe('**100 tasks**, page 1 of 7');
    expect(namesOn(first)).toEqual(all.slice(0, 15));
    expect(first.content).not.toContain('more.');
    expect(button(first, PREVIOUS_LABEL).disabled).toBe(true);
    expect(button(first, NEXT_LABEL)).toMatchObject({
      disabled: false,
      custom_id: `task:list:2:${t.a.admin}`,
    });

    const seen = [...namesOn(first)];
    let page = first;
    for (let n = 2; n <= 7; n++) {
      const turned = await click(page, button(page, NEXT_LABEL).custom_id, t.a.admin);
      expect(turned.ack).toBe(InteractionResponseType.UpdateMessage);
      expect(turned.answer.id).toBe(first.id);
      expect(turned.ephemeral).toBe(true);
      expect(turned.answer.content.split('\n')[0]).toBe(`**100 tasks**, page ${n} of 7`);
      page = turned.answer;
      seen.push(...namesOn(page));
    }
    expect(seen).toEqual(all);
    expect(namesOn(page)).toHaveLength(10);
    expect(button(page, NEXT_LABEL).disabled).toBe(true);
    expect(button(page, PREVIOUS_LABEL).disabled).toBe(false);

    const back = await click(page, button(page, PREVIOUS_LABEL).custom_id, t.a.admin);
    expect(back.answer.content.split('\n')[0]).toBe('**100 tasks**, page 6 of 7');
    expect(namesOn(back.answer)).toEqual(all.slice(75, 90));
    // Every page fits a message, header and all.
    expect(back.answer.content.length).toBeLessThanOrEqual(2000);
  });

  it('re-reads the tasks on each click: a deleted task is gone, and a page that no longer exists shows the last', async () => {
    let sixth = await invoke(t.emulator, 'list', {}, { guild: t.a });
    for (let n = 2; n <= 6; n++)
      sixth = (await click(sixth, button(sixth, NEXT_LABEL).custom_id, t.a.admin)).answer;
    expect(namesOn(sixth)).toEqual(Array.from({ length: 15 }, (_, i) => name(75 + i)));

    // 15 fewer: 85 tasks in 6 pages, so the Next on page 6 (to page 7) now lands on page 6 of 6.
    await deleteTasks(t.a, [name(0), ...Array.from({ length: 14 }, (_, i) => name(86 + i))]);
    const clamped = await click(sixth, button(sixth, NEXT_LABEL).custom_id, t.a.admin);
    expect(clamped.answer.content.split('\n')[0]).toBe('**85 tasks**, page 6 of 6');
    expect(namesOn(clamped.answer)).toEqual(Array.from({ length: 10 }, (_, i) => name(76 + i)));
    expect(button(clamped.answer, NEXT_LABEL).disabled).toBe(true);

    const back = await click(clamped.answer, button(clamped.answer, PREVIOUS_LABEL).custom_id, t.a.admin);
    expect(back.answer.content.split('\n')[0]).toBe('**85 tasks**, page 5 of 6');
    expect(namesOn(back.answer)[0]).toBe(name(61));
  });

  it('drops the buttons when the tasks fit one page again, and says so when none are left', async () => {
    const first = await invoke(t.emulator, 'list', {}, { guild: t.a });
    const remaining = t.bot.runtime.list(t.a.id).map((task) => task.name);
    await deleteTasks(t.a, remaining.slice(3));
    const one = await click(first, button(first, NEXT_LABEL).custom_id, t.a.admin);
    expect(one.answer.content.split('\n')[0]).toBe('**3 tasks**');
    expect(namesOn(one.answer)).toEqual(remaining.slice(0, 3));
    expect(one.answer.components).toEqual([]);

    // A second message, still with buttons from before, clicked after every task is gone.
    const stale = postButtons(t.a, [`task:list:2:${t.a.admin}`]);
    await deleteTasks(t.a, remaining.slice(0, 3));
    const none = await click(stale, `task:list:2:${t.a.admin}`, t.a.admin);
    expect(none.answer.content).toBe('This server has no tasks yet. Create one with `/task create`.');
    expect(none.answer.components).toEqual([]);
  });

  it('shows one page without buttons when the tasks fit', async () => {
    await createTasks(t.b, ['alpha', 'beta']);
    const reply = await invoke(t.emulator, 'list', {}, { guild: t.b });
    expect(reply.content).toBe(
      [
        '**2 tasks**',
        'Server time zone: UTC (`/task settings` changes it)',
        '• **alpha** (reminder) stopped, not scheduled, every 1h',
        '• **beta** (reminder) stopped, not scheduled, every 1h',
      ].join('\n'),
    );
    expect(reply.components).toEqual([]);
    await deleteTasks(t.b, ['alpha', 'beta']);
  });
});

describe('who may turn the pages', () => {
  it("refuses another admin's click with an ephemeral sentence and leaves the list as it was", async () => {
    await createTasks(
      t.b,
      Array.from({ length: 20 }, (_, i) => name(i)),
    );
    const list = await invoke(t.emulator, 'list', {}, { guild: t.b });
    const next = button(list, NEXT_LABEL).custom_id;
    const other = t.emulator.world.addMember(t.b.id, {
      user: { username: 'b-admin-2' },
      roles: [t.b.roles.Admins!],
    });
    // Discord shows an ephemeral reply to its recipient alone, so the emulator won't let anyone else click it…
    expect(() => t.emulator.invokeComponent({ user: other, message: list.id, customId: next })).toThrow(
      InvocationError,
    );
    // …but a click can be forged with any custom id a bot message carries.
    const forged = postButtons(t.b, [next]);
    const refused = await click(forged, next, other);
    expect(refused.ack).toBe(InteractionResponseType.ChannelMessageWithSource);
    expect([refused.answer.content, refused.ephemeral]).toEqual([NOT_YOUR_PAGES, true]);
    expect(t.emulator.world.message(forged.id).message.content).toBe('buttons');

    // A member without Manage Server gets the refusal every /task use gets, even naming themselves.
    const own = `task:list:2:${t.b.member}`;
    const noPermission = await click(postButtons(t.b, [next, own]), own, t.b.member);
    expect([noPermission.answer.content, noPermission.ephemeral]).toEqual([NEEDS_MANAGE_SERVER, true]);

    // The owner's own click still turns the page.
    const owner = await click(list, next, t.b.admin);
    expect(owner.answer.content.split('\n')[0]).toBe('**20 tasks**, page 2 of 2');
  });

  it('answers buttons it cannot read with a sentence, and ignores ids that are not /task', async () => {
    const ids = [
      `task:list:two:${t.b.admin}`,
      'task:list:2',
      `task:list:2:${t.b.admin}:extra`,
      `task:list:-1:${t.b.admin}`,
      'task:list:1:not-a-user',
      'task:nosuch:1',
      'task:info:1',
      'task:',
    ];
    const message = postButtons(t.b, ids.slice(0, 5));
    const more = postButtons(t.b, ids.slice(5));
    const answers: string[] = [];
    for (const id of ids) {
      const reply = await click(ids.indexOf(id) < 5 ? message : more, id, t.b.admin);
      expect(reply.ephemeral, id).toBe(true);
      answers.push(reply.answer.content);
    }
    expect(answers).toEqual(Array(8).fill(STALE_COMPONENT));

    // Another bot feature's buttons: the router leaves them alone (no answer), as the next click shows.
    const foreign = postButtons(t.b, ['poll:vote:1', 'tasks:1', `task:list:1:${t.b.admin}`]);
    const ignored = ['poll:vote:1', 'tasks:1'].map((customId) =>
      t.emulator.invokeComponent({ user: t.b.admin, message: foreign.id, customId }),
    );
    await click(foreign, `task:list:1:${t.b.admin}`, t.b.admin);
    expect(ignored.map((handle) => handle.record.callback)).toEqual([null, null]);
  });
});

describe('a slow page', () => {
  it('defers the update, then edits the list in; a failure after deferring is an ephemeral follow-up, and so is a failed edit', async () => {
    const slow = await startTestBot({ deferAfterMs: 0 });
    try {
      for (let i = 0; i < 16; i++) {
        await slow.bot.runtime.create(slow.a.id, {
          name: name(i),
          kind: 'reminder',
          options: { message: 'hi' },
          schedule: { kind: 'interval', seconds: 3600 },
          channelId: slow.a.channels.general!,
          createdBy: slow.a.admin,
          start: false,
        });
      }
      const list = await invoke(slow.emulator, 'list', {}, { guild: slow.a });
      // From here each list read waits for the test to let it go on or fail: a stand-in for a read waiting
      // out a busy database (a real lock can't hold one: under WAL a writer never blocks a reader).
      const runtime = slow.bot.runtime as unknown as { list(guildId: string): Promise<Task[]> };
      const read = slow.bot.runtime.list.bind(slow.bot.runtime);
      let release: (outcome: 'read' | Error) => void = () => {};
      runtime.list = async (guildId) => {
        const outcome = await new Promise<'read' | Error>((resolve) => {
          release = resolve;
        });
        if (outcome instanceof Error) throw outcome;
        return read(guildId);
      };
      const next = button(list, NEXT_LABEL).custom_id;
      const turned = slow.emulator.invokeComponent({ user: slow.a.admin, message: list.id, customId: next });
      expect((await turned.waitForAck()).type).toBe(InteractionResponseType.DeferredMessageUpdate);
      release('read');
      const edited = await turned.waitForReply((m) => m.content.includes('page 2 of 2'));
      expect(edited.id).toBe(list.id);
      expect(namesOn(edited)).toEqual([name(15)]);

      const failed = slow.emulator.invokeComponent({
        user: slow.a.admin,
        message: list.id,
        customId: button(edited, PREVIOUS_LABEL).custom_id,
      });
      expect((await failed.waitForAck()).type).toBe(InteractionResponseType.DeferredMessageUpdate);
      const locked = new Sqlite.SqliteError('database is locked', 'SQLITE_BUSY');
      release(new DatabaseBusyError(5, 2_000, { cause: locked }));
      const followUp = await failed.waitForFollowUp();
      expect([followUp.content, (followUp.flags ?? 0) & MessageFlags.Ephemeral]).toEqual([
        DATABASE_FAULT_SENTENCES.busy,
        MessageFlags.Ephemeral,
      ]);
      // The list stays on the page it showed, and the fault is logged with the button that met it.
      expect(slow.emulator.world.message(list.id).message.content).toContain('page 2 of 2');
      expect(slow.logs).toContainEqual(
        expect.objectContaining({
          msg: 'command hit a database fault',
          command: '/task list',
          customId: next.replace(':2:', ':1:'),
        }),
      );

      // The admin dismisses the list while a click on it is being answered: the edit fails, is logged, and
      // the click still gets an answer.
      const dismissed = slow.emulator.invokeComponent({
        user: slow.a.admin,
        message: list.id,
        customId: button(edited, PREVIOUS_LABEL).custom_id,
      });
      expect((await dismissed.waitForAck()).type).toBe(InteractionResponseType.DeferredMessageUpdate);
      slow.emulator.world.deleteMessage(list.id);
      release('read');
      expect((await dismissed.waitForFollowUp()).content).toBe(SOMETHING_WENT_WRONG);
      expect(slow.logs).toContainEqual(
        expect.objectContaining({ msg: 'could not send the reply', command: '/task list' }),
      );
    } finally {
      await slow.close();
    }
  });
});

describe('list pages in the sandbox', () => {
  it('shows the buttons under the reply, and `press next` turns the page', async () => {
    await createTasks(
      t.a,
      Array.from({ length: 16 }, (_, i) => name(i)),
    );
    const list = await invoke(t.emulator, 'list', {}, { guild: t.a });
    const world = t.emulator.world;
    expect(renderMessage(list, world).split('\n').at(-1)).toBe('(◀ Previous) [Next ▶]');
    expect(renderControls([])).toBe('');

    const printed: string[] = [];
    const print = (line: string) => printed.push(line);
    expect(await pressButton(t.emulator, t.a.admin, 'next', print)).toBe(true);
    expect(printed.at(-1)).toMatch(
      /\(only you\) 16 tasks, page 2 of 2\nServer time zone: UTC \(`\/task settings` changes it\)\n• task-015 .*\n\[◀ Previous\] \(Next ▶\)$/,
    );
    expect(world.message(list.id).message.content).toContain('page 2 of 2');

    // The bad presses each say why, and click nothing.
    expect(await pressButton(t.emulator, t.a.admin, 'Next ▶', print)).toBe(false);
    expect(printed.at(-1)).toMatch(/✗ That button is disabled\.$/);
    expect(await pressButton(t.emulator, t.a.admin, 'shuffle', print)).toBe(false);
    expect(printed.at(-1)).toMatch(/✗ No reply of the bot's has a "shuffle" button\.$/);
    expect(await pressButton(t.emulator, t.a.admin, ' ▶ ', print)).toBe(false);
    expect(printed.at(-1)).toMatch(/✗ Say which button: press next, press previous\.$/);
    // Another admin sees none of the first admin's ephemeral replies, so has nothing to press.
    const other = world.addMember(t.a.id, { user: { username: 'a-admin-2' }, roles: [t.a.roles.Admins!] });
    expect(await pressButton(t.emulator, other, 'previous', print)).toBe(false);
    expect(await pressButton(t.emulator, t.a.admin, 'prev', print)).toBe(true);
    expect(printed.at(-1)).toContain('16 tasks, page 1 of 2');
    await deleteTasks(
      t.a,
      Array.from({ length: 16 }, (_, i) => name(i)),
    );
  });
});

describe('pages and custom ids', () => {
  it('splits lines by count and by characters, and clamps pages', () => {
    expect(paginate([], { lines: 2, characters: 100 })).toEqual([[]]);
    expect(paginate(['a', 'b', 'c', 'd', 'e'], { lines: 2, characters: 100 })).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e'],
    ]);
    // "aaaa\nbbbb" is 9 characters: it fits 9, not 8; a line longer than the limit gets its own page.
    expect(paginate(['aaaa', 'bbbb', 'cccccccccccc', 'd'], { lines: 5, characters: 9 })).toEqual([
      ['aaaa', 'bbbb'],
      ['cccccccccccc'],
      ['d'],
    ]);
    expect(paginate(['aaaa', 'bbbb'], { lines: 5, characters: 8 })).toEqual([['aaaa'], ['bbbb']]);
    expect([clampPage(0, 3), clampPage(2, 3), clampPage(9, 3), clampPage(4, 0)]).toEqual([1, 2, 3, 1]);
  });

  it('builds custom ids that route back, and refuses ids Discord would not take', () => {
    const id = componentId('task', 'list', 7, '123456789012345678');
    expect(id).toBe('task:list:7:123456789012345678');
    expect(parseComponentId('task', id)).toEqual({ subcommand: 'list', args: ['7', '123456789012345678'] });
    expect(parseComponentId('task', 'poll:list:1')).toBeUndefined();
    expect(parseComponentId('task', 'task')).toBeUndefined();
    expect(parseComponentId('task', 'task::1')).toBeUndefined();
    expect(() => componentId('task', 'list', 'a:b')).toThrow(/custom id/);
    expect(() => componentId('task', 'list', 'x'.repeat(91))).toThrow(/custom id/);
    expect(componentId('task', 'list', 'x'.repeat(90))).toHaveLength(100);
  });
});
