// The chaos run's checks catch what they claim to: each problem is planted in a real emulator's message log
// or in a database view, and the figure that should count it does.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../emulator/index.js';
import {
  botPosts,
  checkCompletion,
  checkDatabase,
  checkPosts,
  type DatabaseView,
  Problems,
} from '../../scripts/chaos/checks.js';
import { ChaosModel, type Kind, type TaskModel } from '../../scripts/chaos/model.js';
import { postText } from '../../scripts/chaos/post-text.js';
import { type ChaosServer, createServers } from '../../scripts/chaos/servers.js';

let emulator: Emulator;
let server: ChaosServer;
let model: ChaosModel;
let problems: Problems;

beforeEach(async () => {
  emulator = await startEmulator();
  [server] = createServers(emulator, 1) as [ChaosServer];
  model = new ChaosModel();
  problems = new Problems();
});
afterEach(() => emulator.close());

function task(name: string, kind: Kind, patch: Partial<TaskModel> = {}): TaskModel {
  const created: TaskModel = {
    server,
    name,
    kind,
    count: null,
    presence: 'present',
    states: ['running'],
    everySeconds: 10,
    deleted: false,
    refused: false,
    busy: false,
    timeline: [],
    resets: [],
    history: [],
    ...patch,
  };
  model.tasks.push(created);
  return created;
}

function botPost(content: string, nonce?: string): void {
  emulator.world.createMessage({
    channel: server.channels[1]!,
    author: emulator.world.botUser.id,
    content,
    ...(nonce ? { nonce } : {}),
  });
}

it('counts a slot posted twice with one nonce, the window having expired, as one double post', () => {
  task('r1', 'reminder');
  botPost('reminder r1', 'm1.abc');
  botPost('reminder r1', 'm1.abc');
  botPost('reminder r1', 'm1.abd');
  checkPosts(botPosts(emulator), model, problems);
  expect(problems.count('double posts')).toBe(1);
  expect(problems.takeFresh()).toEqual(['double posts: r1: 2 posts with nonce m1.abc']);
});

it('counts an iteration posted again for a later slot (killed after the post, before the record)', () => {
  task('p1', 'chaospost');
  botPost(postText('p1', 0, 10_000), 'a');
  botPost(postText('p1', 0, 20_000), 'b');
  botPost(postText('p1', 1, 30_000), 'c');
  checkPosts(botPosts(emulator), model, problems);
  expect(problems.count('double posts')).toBe(1);
});

it('lets an iteration run again after a cancel sent between its posts (an aborted run does not count)', () => {
  const p2 = task('p2', 'chaospost');
  botPost(postText('p2', 0, 10_000), 'a');
  p2.resets.push(Date.now());
  botPost(postText('p2', 0, 20_000), 'b');
  checkPosts(botPosts(emulator), model, problems);
  expect(problems.total).toBe(0);
});

it('counts a second message of a counter or leaderboard, which keep one each, as a double post', () => {
  task('c1', 'counter');
  botPost('5 members in c1', 'a');
  botPost('5 members in c1', 'b');
  checkPosts(botPosts(emulator), model, problems);
  expect(problems.count('double posts')).toBe(1);
});

it('counts posts beyond a count, and a row that ran past it, as counts exceeded', () => {
  task('r2', 'reminder', { count: 2 });
  for (const nonce of ['a', 'b', 'c']) botPost('reminder r2', nonce);
  checkPosts(botPosts(emulator), model, problems);
  expect(problems.count('counts exceeded')).toBe(1);
  checkDatabase(view([row('r2', { count: 2, current_loop: 3, state: 'completed' })]), model, problems, 1);
  expect(problems.count('counts exceeded')).toBe(2);
});

it('a post for a slot after an acknowledged stop is a command lost', () => {
  task('p3', 'chaospost', { states: ['stopped'], timeline: [{ at: 15_000, halted: true }] });
  botPost(postText('p3', 0, 10_000), 'a'); // the run in flight at the stop finishes: fine
  botPost(postText('p3', 1, 20_000), 'b');
  checkPosts(botPosts(emulator), model, problems);
  expect(problems.count('commands lost')).toBe(1);
});

it('compares the stored tasks with the acknowledged commands', () => {
  task('gone', 'reminder');
  task('back', 'reminder', { presence: 'absent', deleted: true });
  task('moved', 'reminder', { states: ['stopped'] });
  task('slower', 'reminder', { everySeconds: 15 });
  task('phantom', 'reminder', { presence: 'absent', refused: true });
  task('unknown', 'reminder', { presence: 'unknown', states: null, everySeconds: null });
  const db = view([
    row('back'),
    row('moved', { state: 'running' }),
    row('slower'),
    row('phantom'),
    row('unknown', { state: 'cancelled' }),
  ]);
  checkDatabase({ ...db, integrity: '*** in database main ***\nPage 3 is never used' }, model, problems, 4);
  expect(
    ['integrity failures', 'tasks lost', 'deleted back', 'commands lost'].map((kind) =>
      problems.count(kind as Parameters<Problems['count']>[0]),
    ),
  ).toEqual([1, 1, 1, 3]);
});

it('at the end, a completed task must have run its whole count', () => {
  task('r3', 'reminder', { count: 2 });
  checkCompletion(view([row('r3', { count: 2, current_loop: 1, state: 'completed' })]), model, problems);
  expect(problems.count('counts exceeded')).toBe(1);
});

type Row = DatabaseView['rows'] extends Map<string, infer R> ? R : never;
let nextId = 1;

function row(name: string, patch: Partial<Row> = {}): Row {
  return {
    id: nextId++,
    guild_id: server.id,
    name,
    state: 'running',
    count: null,
    current_loop: 0,
    schedule: JSON.stringify({ kind: 'interval', seconds: 10 }),
    ...patch,
  };
}

function view(rows: Row[]): DatabaseView {
  return {
    integrity: 'ok',
    rows: new Map(rows.map((r) => [`${r.guild_id}/${r.name}`, r])),
    runs: new Set(),
    intents: 0,
  };
}
