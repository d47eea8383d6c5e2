// One chaos run: the emulator here, the real bot in a child process, SIGKILLed at a moment chosen by a
// seeded PRNG among the events the emulator sees (a post created, a request received, a reply created), then
// checked and restarted, cycle after cycle.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Emulator, InvocationError, startEmulator } from '../../emulator/index.js';
import { BotProcess } from './bot-process.js';
import {
  botPosts,
  checkCompletion,
  checkDatabase,
  checkPosts,
  PROBLEM_KINDS,
  type ProblemKind,
  Problems,
  readDatabase,
  runsInFlight,
} from './checks.js';
import { ChaosModel, type CommandPlan } from './model.js';
import { type Random, seededRandom } from './random.js';
import { type ChaosServer, createServers } from './servers.js';

const HANDLERS_DIR = fileURLToPath(new URL('./handlers', import.meta.url));
const SERVERS = 3;
/** Only a guard against a cycle where nothing at all happens; kills are driven by events. */
const FALLBACK_KILL_MS = 30_000;
/** How long a driver waits for a post before its next command anyway (when no task is running). */
const QUIET_GUARD_MS = 1_000;
/** Replies are awaited as events; this only bounds a reply that never comes while the bot lives. */
const REPLY_WAIT_MS = 60_000;

export interface ChaosOptions {
  cycles: number;
  seed: number;
  /**
   * After the last kill, start the bot once more, let it post, stop it gracefully and check again (default
   * true). Without it a run is one start shorter.
   */
  settle?: boolean;
  /**
   * The most events (bot posts, REST requests, command replies) a cycle may last before its kill; the kill
   * point is drawn below these. Default { posts: 24, requests: 80, replies: 10 }: long enough that tasks reach
   * their next slots while the bot is up.
   */
  longestCycle?: LongestCycle;
  /** Called after every cycle with one line of progress. */
  progress?: (line: string) => void;
}

export interface ChaosResult {
  cycles: number;
  killsMidRun: number;
  /** Kills by the fallback timer rather than an event (should stay 0). */
  fallbackKills: number;
  figures: Record<ProblemKind, number>;
  commands: { sent: number; answered: number };
  posts: number;
  problems: string[];
}

type KillPoint = { on: 'post' | 'request' | 'reply'; nth: number };
type LongestCycle = { posts: number; requests: number; replies: number };
const LONGEST_CYCLE: LongestCycle = { posts: 24, requests: 80, replies: 10 };

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const random = seededRandom(options.seed);
  const emulator = await startEmulator({ strict: false });
  const servers = createServers(emulator, SERVERS);
  const dir = mkdtempSync(join(tmpdir(), 'metronome-chaos-'));
  const env = {
    token: emulator.token,
    apiBase: emulator.apiBase,
    databasePath: join(dir, 'bot.db'),
    handlersDir: HANDLERS_DIR,
    cwd: dir,
  };
  const model = new ChaosModel();
  // One PRNG stream for the kill points and one per server's admin: a seed replays the same choices.
  const admins = servers.map((_, index) => seededRandom(options.seed * 31 + index + 1));
  const problems = new Problems();
  const allProblems: string[] = [];
  const commands = { sent: 0, answered: 0 };
  let killsMidRun = 0;
  let fallbackKills = 0;
  try {
    for (let cycle = 1; cycle <= options.cycles; cycle++) {
      const startedAt = Date.now();
      const bot = new BotProcess(env);
      await bot.ready;
      const readyAt = Date.now();
      const postsBefore = botPosts(emulator).length;
      const point = chooseKillPoint(random, options.longestCycle ?? LONGEST_CYCLE);
      const killed = armKill(emulator, bot, point);
      // Replies the bot wrote just before it died may still be in the emulator's socket: let them land.
      const ended = bot.exited.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
      const drivers = servers.map((server, index) =>
        drive({
          emulator,
          server,
          model,
          random: admins[index]!,
          killed: killed.promise,
          ended,
          commands,
        }),
      );
      const how = await killed.promise;
      const killedAt = Date.now();
      for (const task of model.tasks)
        if (task.presence !== 'absent') model.note(task, `${killedAt} bot killed (cycle ${cycle})`);
      if (how === 'fallback') fallbackKills++;
      const exit = await bot.exited;
      await Promise.all(drivers);
      const db = readDatabase(env.databasePath);
      const posts = botPosts(emulator);
      const inFlight = runsInFlight(db, posts.slice(postsBefore), model);
      if (inFlight > 0) killsMidRun++;
      checkDatabase(db, model, problems, cycle);
      checkPosts(posts, model, problems);
      const fresh = problems.takeFresh();
      allProblems.push(...fresh.map((line) => `cycle ${cycle}: ${line}`));
      const killedHow =
        exit.signal === 'SIGKILL'
          ? `killed after ${describe(point, how, killed.seen())}`
          : `exited ${exit.code}`;
      options.progress?.(
        `cycle ${cycle}/${options.cycles}: up in ${readyAt - startedAt} ms, ${killedHow} ${killedAt - readyAt} ms later, ` +
          `${inFlight} run(s) in flight, ` +
          `${model.tasks.filter((t) => t.presence !== 'absent').length} tasks, ${posts.length} posts; ` +
          `${summarize(problems)}${fresh.length ? `\n  ${fresh.join('\n  ')}` : ''}`,
      );
    }
    if (options.settle ?? true) {
      // A last start lets the bot settle what the last kill interrupted; a graceful stop, then the final checks.
      const bot = new BotProcess(env);
      await bot.ready;
      await waitForPosts(emulator, 3);
      await bot.stop();
      const db = readDatabase(env.databasePath);
      checkDatabase(db, model, problems, options.cycles + 1);
      checkPosts(botPosts(emulator), model, problems);
      checkCompletion(db, model, problems);
      allProblems.push(...problems.takeFresh().map((line) => `final: ${line}`));
    }
    const figures = Object.fromEntries(PROBLEM_KINDS.map((kind) => [kind, problems.count(kind)])) as Record<
      ProblemKind,
      number
    >;
    return {
      cycles: options.cycles,
      killsMidRun,
      fallbackKills,
      figures,
      commands,
      posts: botPosts(emulator).length,
      problems: allProblems,
    };
  } finally {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `chaos: 200 cycles, 183 kills mid-run, 0 integrity failures, …`: the one line a run ends with. */
export function summaryLine(result: ChaosResult): string {
  const figures = PROBLEM_KINDS.map((kind) => `${result.figures[kind]} ${kind}`).join(', ');
  return `chaos: ${result.cycles} cycles, ${result.killsMidRun} kills mid-run, ${figures}`;
}

function summarize(problems: Problems): string {
  return PROBLEM_KINDS.map((kind) => `${problems.count(kind)} ${kind}`).join(', ');
}

function chooseKillPoint(random: Random, longest: LongestCycle): KillPoint {
  const on = random.weighted({ post: 55, request: 30, reply: 15 });
  const most = { post: longest.posts, request: longest.requests, reply: longest.replies }[on];
  return { on, nth: random.int(1, most) };
}

function describe(point: KillPoint, how: 'event' | 'fallback', seen: number): string {
  const what = { post: 'post', request: 'REST request', reply: 'command reply' }[point.on];
  if (how === 'fallback') return `${FALLBACK_KILL_MS / 1000} s without ${what} #${point.nth} (saw ${seen})`;
  return `${what} #${point.nth}`;
}

/**
 * SIGKILLs the bot from inside the emulator's own bookkeeping of the chosen event, so the bot has not yet
 * had the answer (a post is created, and the bot never hears it was).
 */
function armKill(
  emulator: Emulator,
  bot: BotProcess,
  point: KillPoint,
): { promise: Promise<'event' | 'fallback'>; seen(): number } {
  let seen = 0;
  let resolve!: (how: 'event' | 'fallback') => void;
  const promise = new Promise<'event' | 'fallback'>((r) => {
    resolve = r;
  });
  const unsubscribe: (() => void)[] = [];
  const kill = (how: 'event' | 'fallback') => {
    for (const off of unsubscribe.splice(0)) off();
    clearTimeout(timer);
    bot.kill();
    resolve(how);
  };
  const count = () => {
    if (++seen === point.nth) kill('event');
  };
  if (point.on === 'post') {
    unsubscribe.push(
      emulator.world.messageLog.subscribe((entry) => {
        if (entry.kind === 'create' && entry.message.author.id === emulator.world.botUser.id) count();
      }),
    );
  } else if (point.on === 'request') {
    unsubscribe.push(emulator.rest.requests.subscribe(count));
  } else {
    unsubscribe.push(
      emulator.interactions.events.subscribe((event) => {
        if (event.kind === 'original') count();
      }),
    );
  }
  const timer = setTimeout(() => kill('fallback'), FALLBACK_KILL_MS);
  void bot.exited.then(() => kill('event'));
  return { promise, seen: () => seen };
}

interface DriveOptions {
  emulator: Emulator;
  server: ChaosServer;
  model: ChaosModel;
  random: Random;
  killed: Promise<unknown>;
  /** The bot has exited and the emulator has read what it sent last. */
  ended: Promise<void>;
  commands: { sent: number; answered: number };
}

/**
 * One server's admin typing commands until the kill, each after the bot's next post anywhere (so commands
 * interleave with runs rather than flood), and its members chatting for the leaderboards.
 */
async function drive(options: DriveOptions): Promise<void> {
  const { emulator, server, model, random, killed } = options;
  let dead = false;
  void killed.then(() => {
    dead = true;
  });
  for (let i = 0; !dead; i++) {
    if (random.next() < 0.5) {
      emulator.world.postMessage({
        channel: random.pick(server.channels),
        author: random.pick(server.members),
        content: `chatter ${i}`,
      });
    }
    const plan = model.plan(server, random);
    if (plan) await send(emulator, server, plan, options);
    if (!dead) await Promise.race([nextPost(emulator), killed]);
  }
}

/** The bot's next post; a guard lets commands go on when every task is halted and nothing posts. */
function nextPost(emulator: Emulator): Promise<unknown> {
  const botId = emulator.world.botUser.id;
  return emulator.world.messageLog
    .waitForNext((entry) => entry.kind === 'create' && entry.message.author.id === botId, 'a post', {
      timeoutMs: QUIET_GUARD_MS,
    })
    .catch(() => undefined);
}

async function send(
  emulator: Emulator,
  server: ChaosServer,
  plan: CommandPlan,
  { killed, ended, commands }: Pick<DriveOptions, 'killed' | 'ended' | 'commands'>,
): Promise<void> {
  const [group, subcommand] = plan.path.includes(' ') ? plan.path.split(' ') : [undefined, plan.path];
  let handle: ReturnType<Emulator['invokeSlash']>;
  plan.sent(Date.now());
  try {
    handle = emulator.invokeSlash({
      command: 'task',
      ...(group ? { group } : {}),
      subcommand: subcommand!,
      options: plan.options,
      user: server.admin,
      guild: server.id,
      channel: server.channels[0]!,
    });
  } catch (error) {
    if (!(error instanceof InvocationError)) throw error;
    // Discord itself would not send it: nothing happened.
    plan.answered(`not sent: ${error.message}`, Date.now());
    return;
  }
  commands.sent++;
  const reply = handle.waitForReply(undefined, { timeoutMs: REPLY_WAIT_MS }).then(
    (message) => message.content,
    () => null,
  );
  const first = await Promise.race([reply, killed.then(() => undefined)]);
  // Killed first: whatever reply reached the emulator before the bot died still counts as an answer.
  const content = first === undefined ? await ended.then(() => settledReply(handle)) : first;
  if (content !== null) commands.answered++;
  plan.answered(content, Date.now());
}

function settledReply(handle: ReturnType<Emulator['invokeSlash']>): string | null {
  const original = handle.original();
  if (!original || (original.flags ?? 0) & (1 << 7)) return null; // none, or still "thinking…" (Loading)
  return original.content;
}

/** Waits until the bot has posted `n` more messages, or a while has passed with fewer (all tasks halted). */
async function waitForPosts(emulator: Emulator, n: number): Promise<void> {
  const botId = emulator.world.botUser.id;
  let seen = 0;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, FALLBACK_KILL_MS);
    const off = emulator.world.messageLog.subscribe((entry) => {
      if (entry.kind === 'create' && entry.message.author.id === botId && ++seen >= n) done();
    });
    function done() {
      clearTimeout(timer);
      off();
      resolve();
    }
  });
}
