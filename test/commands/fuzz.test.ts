// 2,000 random /task interactions of the kinds Discord's client lets through (its own type, choice and
// length checks pass; everything else is fair game), a few at a time: every one is acknowledged in time,
// the bot keeps answering, and the database stays sound. "In time" is Discord's rule, judged by the
// emulator when the answer arrives (10062 after 3 s); the test itself only waits for each answer, so a busy
// machine makes it slower, never wrong.
import {
  type APIApplicationCommandOption,
  ApplicationCommandOptionType,
  ButtonStyle,
  ComponentType,
} from 'discord-api-types/v10';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { InvocationError, type OptionValue, type SlashInvocation } from '../../emulator/index.js';
import { startTestBot, type TestBot } from './helpers.js';

const INTERACTIONS = 2_000;
const IN_FLIGHT = 25;
const ACK_DEADLINE_MS = 3_000;
/** Not a deadline: how long a wait may last before an answer that never comes fails the test with its name. */
const HANG_GUARD_MS = 60_000;

let t: TestBot;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  t = await startTestBot({
    handlersDir: new URL('./fixtures/fuzz-handlers', import.meta.url).pathname,
    // Tasks the fuzz creates run once at once; keep their posts and renames from queueing behind limits.
    emulator: { globalRequestsPerSecond: 100_000, renameLimit: { count: 100_000, windowMs: 1_000 } },
  });
}, HANG_GUARD_MS);
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await t?.close();
});

/** A small deterministic PRNG (mulberry32), so a failure can be replayed with the same seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const SEED = 20_261_125;
const rand = random(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

const STRINGS = [
  'fz-a',
  'fz-b',
  'fz-c',
  'standup',
  '',
  ' ',
  '10s',
  '9s',
  '0s',
  '-5m',
  '1h30m',
  '99999999d',
  'NaN',
  '1e309',
  '09:00',
  '09:00, 18:30',
  '25:61',
  '9',
  ':',
  'Europe/Paris',
  'europe/PARIS',
  'Mars/Olympus',
  'UTC',
  '../../etc',
  '* * * * *',
  '0 9 * * 1',
  '61 * * * *',
  '@yearly',
  '* * * * * * *',
  'Members: {members}',
  '{nope}',
  '#5865f2',
  'red',
  '@everyone',
  '<@&1>',
  "'; DROP TABLE tasks; --",
  'ñandú',
  'Ωmega',
  '💥🔥',
  '\u200b',
  '\u202eevil',
  'line\nbreak',
  '\t',
  '%s%n',
  `$\{process.exit()}`,
  '__proto__',
  'constructor',
  'null',
  'undefined',
  '-1',
  '3.5',
  'tomorrow 9am',
  '2026-12-24 18:00',
  '24 Dec 18:00',
  'in 2 hours',
  'in 90 minutes',
  'next monday 09:00',
  'mon,wed,fri 09:00',
  'weekdays 18:30',
  '9am',
  '12/01',
  '01/12/2026',
  '1999-01-01 10:00',
  'feb 30 10:00',
  'paris',
  'new york',
  'CET',
  'EST',
  'UTC+2',
  'GMT-5',
  '+05:30',
  'Etc/GMT-2',
  'role, title',
  'message',
];

function randomString(maxLength: number, minLength = 0): string {
  const roll = rand();
  let text: string;
  if (roll < 0.7) text = pick(STRINGS);
  else if (roll < 0.85)
    text = pick(['x', 'é', '💥', 'Ω', ' ', '\\', '"', 'a1-_']).repeat(1 + Math.floor(rand() * 3000));
  else
    text = Array.from({ length: 1 + Math.floor(rand() * 40) }, () =>
      String.fromCodePoint(32 + Math.floor(rand() * 0x2fff)),
    ).join('');
  return text.slice(0, maxLength).padEnd(minLength, 'z');
}

function randomNumber(option: { min_value?: number; max_value?: number }, integer: boolean): number {
  const raw = pick([0, -1, 1, 2, 3, 10, -2_147_483_648, 2_147_483_647, 1e9, -1e9, rand() * 1e6 - 5e5]);
  const value = integer ? Math.trunc(raw) : raw;
  const min = option.min_value ?? Number.NEGATIVE_INFINITY;
  const max = option.max_value ?? Number.POSITIVE_INFINITY;
  // Discord's client refuses out-of-range numbers; stay inside, at the edges half the time.
  if (value < min) return rand() < 0.5 ? min : Math.min(max, min + Math.floor(rand() * 5));
  if (value > max) return max;
  return value;
}

type Leaf = { group?: string; subcommand: string; options: APIApplicationCommandOption[] };

function leaves(): Leaf[] {
  const command = t.emulator.commands.list(null).find((c) => c.name === 'task')!;
  const out: Leaf[] = [];
  for (const option of command.options ?? []) {
    if (option.type === ApplicationCommandOptionType.SubcommandGroup) {
      for (const sub of option.options ?? [])
        out.push({ group: option.name, subcommand: sub.name, options: sub.options ?? [] });
    } else if (option.type === ApplicationCommandOptionType.Subcommand) {
      out.push({ subcommand: option.name, options: option.options ?? [] });
    }
  }
  return out;
}

function randomValue(option: APIApplicationCommandOption): OptionValue | undefined {
  if ('choices' in option && option.choices?.length) {
    return pick(option.choices as readonly { value: string | number }[]).value;
  }
  const guild = t.a;
  switch (option.type) {
    case ApplicationCommandOptionType.String:
      // Well-formed values often enough that tasks get created, stopped, changed and deleted too.
      if (option.name === 'name' && rand() < 0.7) return pick(['fz-a', 'fz-b', 'fz-c', 'fz-d']);
      if (option.name === 'every' && rand() < 0.5) return pick(['10m', '1h', '15s']);
      if (option.name === 'at' && rand() < 0.5)
        return pick(['09:00', 'tomorrow 9am', 'in 2 hours', 'mon,wed 09:00', '2030-12-24 18:00']);
      return randomString(option.max_length ?? 6000, option.min_length ?? 0);
    case ApplicationCommandOptionType.Integer:
      return randomNumber(option, true);
    case ApplicationCommandOptionType.Number:
      return randomNumber(option, false);
    case ApplicationCommandOptionType.Boolean:
      return rand() < 0.5;
    case ApplicationCommandOptionType.Channel: {
      const allowed = option.channel_types ?? [];
      const ids = Object.values(guild.channels).filter((id) => {
        const type = t.emulator.world.channel(id).type as number;
        return allowed.length === 0 || (allowed as readonly number[]).includes(type);
      });
      return pick(ids);
    }
    case ApplicationCommandOptionType.Role:
      return pick([guild.everyoneRoleId, ...Object.values(guild.roles)]);
    case ApplicationCommandOptionType.Attachment:
      // /task import: garbage, or an export-shaped file with good and bad tasks.
      return t.emulator.uploadAttachment({
        filename: 'fuzz.json',
        content:
          rand() < 0.5
            ? randomString(5_000)
            : JSON.stringify({
                version: pick([1, 2, '1']),
                tasks: [
                  {
                    name: pick(['fz-a', 'fz-x', 'Bad Name']),
                    kind: pick(['reminder', 'nope']),
                    channel: pick(['#general', '#nope', null]),
                    schedule: pick([
                      { kind: 'interval', seconds: pick([10, 1, 3600]) },
                      { kind: 'once', at: pick([0, Date.now() + 3_600_000]), timeZone: 'UTC' },
                      { kind: 'times', times: ['09:00'], days: [1, 9], timeZone: 'UTC' },
                    ]),
                    options: { message: randomString(50, 1) },
                  },
                ],
              }),
      });
    case ApplicationCommandOptionType.User:
    case ApplicationCommandOptionType.Mentionable:
      return pick([guild.admin, guild.member]);
    default:
      return undefined;
  }
}

/**
 * A click on a /task button: a list page's, well-formed or not, by its owner, another admin or a member
 * without Manage Server. The button sits on a bot message everyone sees, which is how a forged click would
 * name it. Waits for the bot's answer like a command's.
 */
async function clickRandomButton(): Promise<{
  customId: string;
  record: ReturnType<typeof t.emulator.invokeComponent>['record'];
}> {
  const guild = t.a;
  const customId = pick([
    `task:list:${1 + Math.floor(rand() * 9)}:${guild.admin}`,
    `task:list:${1 + Math.floor(rand() * 9)}:${guild.member}`,
    `task:list:999999:${guild.admin}`,
    `task:list:-1:${guild.admin}`,
    'task:list:abc:1',
    'task:list',
    'task:nope:1:2',
    'task:',
    `task:${randomString(90)}`,
  ]).slice(0, 100);
  const message = t.emulator.world.createMessage({
    channel: guild.channels.general!,
    author: t.emulator.world.botUser.id,
    content: 'buttons',
    components: [
      {
        type: ComponentType.ActionRow,
        components: [
          {
            type: ComponentType.Button,
            style: ButtonStyle.Secondary,
            label: 'Next',
            custom_id: customId || 'x',
          },
        ],
      },
    ],
  }).message;
  const user = pick([guild.admin, guild.member]);
  const handle = t.emulator.invokeComponent({ user, message: message.id, customId: customId || 'x' });
  await t.emulator.waitForRequest(
    { method: 'POST', path: new RegExp(`^/interactions/${handle.id}/[^/]+/callback$`) },
    { timeoutMs: HANG_GUARD_MS },
  );
  return { customId, record: handle.record };
}

function randomInvocation(all: Leaf[]): { invocation: SlashInvocation; autocomplete?: string } {
  const leaf = pick(all);
  const options: Record<string, OptionValue> = {};
  for (const option of leaf.options) {
    const skip = ['at', 'cron', 'timezone'].includes(option.name) ? 0.8 : 0.5;
    if (!('required' in option && option.required) && rand() < skip) continue;
    const value = randomValue(option);
    if (value !== undefined) options[option.name] = value;
  }
  const outsider = rand() < 0.1;
  const invocation: SlashInvocation = {
    command: 'task',
    ...(leaf.group ? { group: leaf.group } : {}),
    subcommand: leaf.subcommand,
    options,
    user: outsider ? t.a.member : t.a.admin,
    guild: t.a.id,
    channel: pick([t.a.channels.general!, t.a.channels.announcements!]),
    ignoreDefaultMemberPermissions: outsider,
  };
  const completable = leaf.options.filter((o) => 'autocomplete' in o && o.autocomplete);
  if (completable.length > 0 && rand() < 0.15) return { invocation, autocomplete: pick(completable).name };
  return { invocation };
}

it(
  `acknowledges ${INTERACTIONS} random interactions within ${ACK_DEADLINE_MS} ms and stays sound`,
  async () => {
    const all = leaves();
    let sent = 0;
    let refusedByDiscord = 0;
    let slowest = 0;
    const late: string[] = [];

    const one = async (): Promise<void> => {
      if (rand() < 0.08) {
        const click = await clickRandomButton();
        sent++;
        if (!click.record.callback || click.record.rejectedCallbacks.length > 0) late.push(click.customId);
        return;
      }
      const { invocation, autocomplete } = randomInvocation(all);
      if (autocomplete) {
        const value = String(invocation.options?.[autocomplete] ?? randomString(100));
        await t.emulator.invokeAutocomplete(
          { ...invocation, focused: autocomplete, value },
          { timeoutMs: HANG_GUARD_MS },
        );
        sent++;
        return;
      }
      let handle: ReturnType<typeof t.emulator.invokeSlash>;
      try {
        handle = t.emulator.invokeSlash(invocation);
      } catch (error) {
        // What Discord itself would not send (a voice channel where only text is allowed, say).
        if (error instanceof InvocationError) {
          refusedByDiscord++;
          return;
        }
        throw error;
      }
      sent++;
      // The bot's first answer to Discord, accepted or refused: an event, however long a busy machine takes.
      await t.emulator.waitForRequest(
        { method: 'POST', path: new RegExp(`^/interactions/${handle.id}/[^/]+/callback$`) },
        { timeoutMs: HANG_GUARD_MS },
      );
      const ack = handle.record.callback;
      if (ack) slowest = Math.max(slowest, ack.at - handle.record.createdAtMs);
      // Refused with 10062 (too late) or 40060 (answered twice), or never accepted: not acknowledged in time.
      if (!ack || handle.record.rejectedCallbacks.length > 0)
        late.push(JSON.stringify(invocation).slice(0, 300));
    };

    let started = 0;
    const worker = async () => {
      while (started < INTERACTIONS) {
        started++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));

    expect(late).toEqual([]);
    expect(sent + refusedByDiscord).toBe(INTERACTIONS);
    expect(sent).toBeGreaterThan(INTERACTIONS * 0.9);
    expect(slowest).toBeLessThan(ACK_DEADLINE_MS);
    expect(unhandled).toEqual([]);
    // Still alive and answering.
    expect(await t.run('list')).toMatch(/tasks?\*\*|no tasks yet/);
    expect(t.bot.db.sqlite.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    // Only the fragile fixture's status hook is allowed to fail a command.
    const failures = t.logs.filter(
      (line) => line.msg === 'command failed' && line.error !== 'status exploded',
    );
    expect(failures).toEqual([]);
    console.log(
      `fuzz seed ${SEED}: ${sent} sent, ${refusedByDiscord} refused by Discord's own checks, slowest ack ${slowest} ms, ${t.bot.runtime.list(t.a.id).length} tasks left`,
    );
  },
  10 * HANG_GUARD_MS,
);
