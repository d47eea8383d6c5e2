// /metrics and /healthz scraped while the whole bot (startBot: the real discord.js client, SQLite on disk)
// runs against the emulator: a run moves the runs counter, commands move the command counter, a 429 shows
// under its route template, and a gateway outage flips /healthz to 503 with its reason and back.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../emulator/index.js';
import { type Bot, StartupError, startBot } from '../../src/bot.js';
import { createLogger } from '../../src/log.js';
import { FIXTURE_HANDLERS, invoke, makeGuild, type TestGuild } from '../commands/helpers.js';
import { nextClientSession } from '../emulator/harness.js';
import { eventually } from '../handlers/helpers.js';

interface Running {
  emulator: Emulator;
  bot: Bot;
  guild: TestGuild;
  logs: Record<string, unknown>[];
  dir: string;
  url: string;
  /** As the guild's admin; `member`: as a plain member, whom Discord lets through only if an admin changed /task's permissions. */
  run(path: string, options: Record<string, string>, as?: 'member'): Promise<string>;
}

const started: Running[] = [];
afterEach(async () => {
  for (const t of started.splice(0)) {
    await t.bot.stop();
    await t.emulator.close();
    rmSync(t.dir, { recursive: true, force: true });
  }
});

async function start(
  metrics: { port: number; host: string } = { port: 0, host: '127.0.0.1' },
  handlersDir: string | undefined = undefined,
) {
  const emulator = await startEmulator();
  const guild = makeGuild(emulator, 'a');
  const dir = mkdtempSync(join(tmpdir(), 'metronome-metrics-'));
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  const config = {
    discordToken: emulator.token,
    databasePath: join(dir, 'bot.db'),
    handlersDir,
    devGuildId: undefined,
    discordApiBase: emulator.apiBase,
    metrics,
  };
  const launch = () =>
    startBot({
      config,
      log: createLogger({ level: 'info', destination, token: emulator.token }),
      clientOptions: { testing: true, restTimeoutMs: 2_000, restRetries: 1 },
    });
  let bot: Bot;
  try {
    bot = await launch();
  } catch (error) {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const t: Running = {
    emulator,
    bot,
    guild,
    logs,
    dir,
    url: bot.monitoring.url ?? '',
    run: async (path, options, as) =>
      (
        await invoke(emulator, path, options, {
          guild,
          ...(as === 'member' ? { user: guild.member, ignoreDefaultMemberPermissions: true } : {}),
        })
      ).content,
  };
  started.push(t);
  return t;
}

async function get(url: string): Promise<{ status: number; body: string; type: string | null }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
}

/** The value of one sample line of a scrape, e.g. `metronome_tasks{state="running"}`; undefined if absent. */
function sample(scrape: string, series: string): number | undefined {
  const line = scrape.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrapeUntil(t: Running, series: string, expected: number): Promise<string> {
  return eventually(async () => {
    const { body } = await get(`${t.url}/metrics`);
    expect(sample(body, series), series).toBe(expected);
    return body;
  }, 5_000);
}

describe('the bot with METRICS_PORT set', () => {
  it('counts runs, commands and tasks, and answers /healthz ok while up', async () => {
    const t = await start();
    expect(t.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(t.logs.find((l) => String(l.msg).startsWith('serving http://127.0.0.1:'))).toBeDefined();
    expect(await get(`${t.url}/healthz`)).toMatchObject({ status: 200, body: 'ok\n' });

    const general = t.guild.channels.general!;
    expect(
      await t.run('create reminder', { name: 'standup', channel: general, every: '1h', message: 'Hi!' }),
    ).toContain('Created **standup**');
    await t.emulator.waitForMessage(general, (m) => m.content === 'Hi!');
    const afterRun = await scrapeUntil(t, 'metronome_task_runs_total{kind="reminder",outcome="ok"}', 1);
    expect(afterRun).toContain('# TYPE metronome_task_run_duration_seconds histogram');
    expect(sample(afterRun, 'metronome_task_run_duration_seconds_count{kind="reminder"}')).toBe(1);
    expect(sample(afterRun, 'metronome_task_firing_lateness_seconds_count')).toBe(1);
    expect(sample(afterRun, 'metronome_tasks{state="running"}')).toBe(1);
    expect(sample(afterRun, 'metronome_tasks{state="stopped"}')).toBe(0);
    expect(sample(afterRun, 'metronome_gateway_ready{shard="0"}')).toBe(1);
    expect(sample(afterRun, 'metronome_commands_total{subcommand="create reminder",outcome="ok"}')).toBe(1);
    // The journal wrote the run's start and its record; nothing waits.
    expect(
      sample(afterRun, 'metronome_db_journal_write_duration_seconds_count{what="intents"}'),
    ).toBeGreaterThan(0);
    await scrapeUntil(t, 'metronome_run_records_queued', 0);
    // prom-client's process metrics, event-loop lag included.
    expect(afterRun).toMatch(/^nodejs_eventloop_lag_seconds \d/m);

    expect(await t.run('info', { name: 'nope' })).toMatch(/nope/);
    expect(await t.run('list', {}, 'member')).toContain('Manage Server');
    // A sentence the command itself refuses with (a schedule it cannot read) is a refusal, not an ok.
    expect(
      await t.run('create reminder', { name: 'late', channel: general, every: 'soonish', message: 'Hi!' }),
    ).not.toContain('Created');
    const commands = await scrapeUntil(t, 'metronome_commands_total{subcommand="info",outcome="refused"}', 1);
    expect(sample(commands, 'metronome_commands_total{subcommand="list",outcome="denied"}')).toBe(1);
    expect(sample(commands, 'metronome_commands_total{subcommand="create reminder",outcome="refused"}')).toBe(
      1,
    );
    expect(sample(commands, 'metronome_commands_total{subcommand="create reminder",outcome="ok"}')).toBe(1);
    expect(sample(commands, 'metronome_command_ack_seconds_count')).toBe(4);
    // No task name, guild or channel id in any label.
    expect(commands).not.toMatch(/standup|\d{17,}"/);
  });

  it('counts a command that failed on our side as an error', async () => {
    const t = await start(undefined, FIXTURE_HANDLERS);
    await t.run('create fragile', { name: 'brittle', channel: t.guild.channels.general!, every: '1h' });
    // Its status hook throws: the member gets the generic apology.
    expect(await t.run('info', { name: 'brittle' })).toContain('Something went wrong');
    const body = await scrapeUntil(t, 'metronome_commands_total{subcommand="info",outcome="error"}', 1);
    expect(sample(body, 'metronome_commands_total{subcommand="create fragile",outcome="ok"}')).toBe(1);
  });

  it('counts a 429 under its route template, never the channel id', async () => {
    const t = await start();
    const general = t.guild.channels.general!;
    t.emulator.rest.faults.fail(
      { method: 'POST', path: '/channels/:id/messages' },
      { status: 429, retryAfterSeconds: 0.05, times: 1 },
    );
    await t.run('create reminder', { name: 'limited', channel: general, every: '1h', message: 'Later' });
    // discord.js waits the 50 ms out and posts.
    await t.emulator.waitForMessage(general, (m) => m.content === 'Later');
    const body = await scrapeUntil(
      t,
      'metronome_discord_rest_429_total{method="POST",route="/channels/:id/messages",scope="user"}',
      1,
    );
    expect(body).not.toContain(general);
  });

  it('answers 503 with the reason during a gateway outage, and ok again after the resume', async () => {
    const t = await start();
    t.emulator.gateway.refuseConnections();
    const down = await eventually(async () => {
      const health = await get(`${t.url}/healthz`);
      expect(health.status).toBe(503);
      expect(health.body).toMatch(/^gateway: reconnecting for \d+s \(attempt [1-9]\d*\)\n$/);
      return health;
    }, 5_000);
    expect(down.type).toBe('text/plain; charset=utf-8');
    await eventually(() => expect(t.emulator.gateway.refusedConnections).toBeGreaterThanOrEqual(3), 10_000);
    const scrape = (await get(`${t.url}/metrics`)).body;
    expect(sample(scrape, 'metronome_gateway_ready{shard="0"}')).toBe(0);
    expect(sample(scrape, 'metronome_gateway_reconnect_attempts_total{shard="0"}')).toBeGreaterThanOrEqual(3);
    // One line for the drop; the refused attempts after it are counted, not logged.
    expect(t.logs.filter((l) => String(l.msg).startsWith('gateway connection lost'))).toHaveLength(1);
    expect(t.logs.filter((l) => l.level === 40)).toHaveLength(1);

    const resumed = nextClientSession(t.bot.client);
    t.emulator.gateway.acceptConnections();
    expect(await resumed).toBe('resumed');
    expect(await get(`${t.url}/healthz`)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(t.logs.filter((l) => String(l.msg).startsWith('gateway connection resumed after'))).toHaveLength(
      1,
    );
  });

  it('answers 404 elsewhere, and stops listening when the bot stops', async () => {
    const t = await start();
    expect(await get(`${t.url}/`)).toMatchObject({ status: 404 });
    expect((await fetch(`${t.url}/metrics`, { method: 'POST' })).status).toBe(405);
    await t.bot.stop();
    await expect(fetch(`${t.url}/healthz`)).rejects.toThrowError();
  });

  it('refuses to start on a METRICS_PORT already in use, naming it, and leaves the database free', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as { port: number }).port;
    try {
      const failed = start({ port, host: '127.0.0.1' });
      await expect(failed).rejects.toThrowError(StartupError);
      await expect(failed).rejects.toThrowError(`METRICS_PORT ${port} is already in use on 127.0.0.1`);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    // Nothing was left half-started: the next bot gets the port and its own database lock.
    const t = await start({ port, host: '127.0.0.1' });
    expect(t.url).toBe(`http://127.0.0.1:${port}`);
  });

  it('serves nothing without METRICS_PORT, and still answers health in-process', async () => {
    const emulator = await startEmulator();
    makeGuild(emulator, 'a');
    const dir = mkdtempSync(join(tmpdir(), 'metronome-metrics-'));
    const bot = await startBot({
      config: {
        discordToken: emulator.token,
        databasePath: join(dir, 'bot.db'),
        handlersDir: undefined,
        devGuildId: undefined,
        discordApiBase: emulator.apiBase,
      },
      log: createLogger({ level: 'silent' }),
      clientOptions: { testing: true, restTimeoutMs: 2_000, restRetries: 1 },
    });
    try {
      expect(bot.monitoring.url).toBeUndefined();
      expect(await bot.monitoring.health()).toBeUndefined();
    } finally {
      await bot.stop();
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
