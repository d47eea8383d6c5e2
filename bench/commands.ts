// `npm run bench -- commands [seconds] [rate]`: acknowledgement latency of `/task list` and `/task create`
// through the emulator, with the real client, startBot and SQLite on disk.
// Sends interactions at `rate` per second (default 100) for `seconds` each (default 10) and measures, per
// interaction, the time from the emulator sending INTERACTION_CREATE to it receiving the bot's callback.
// Target: p99 <= 50 ms.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type InteractionHandle, type SlashInvocation, startEmulator } from '../emulator/index.js';
import { startBot } from '../src/bot.js';
import { createLogger } from '../src/log.js';

const seconds = Number(process.argv[2] ?? 10);
const rate = Number(process.argv[3] ?? 100);
const TARGET_P99_MS = 50;

const emulator = await startEmulator({ strict: false });
const guild = emulator.world.createGuild({
  name: 'Bench',
  roles: [{ name: 'Admins', permissions: ['ManageGuild'] }],
  channels: [{ name: 'general' }],
  members: [{ user: { username: 'admin' }, roles: ['Admins'] }],
});
const dir = mkdtempSync(join(tmpdir(), 'metronome-bench-commands-'));
const bot = await startBot({
  config: {
    discordToken: emulator.token,
    discordApiBase: emulator.apiBase,
    databasePath: join(dir, 'bench.db'),
    handlersDir: undefined,
    devGuildId: undefined,
  },
  log: createLogger({ level: 'warn', token: emulator.token, destination: process.stderr }),
  clientOptions: { testing: true },
});

const base = {
  command: 'task',
  user: guild.members.admin!,
  guild: guild.id,
  channel: guild.channels.general!,
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Sends `rate` interactions per second on a fixed grid (not back to back), then collects the acks. */
async function measure(label: string, invocation: (i: number) => SlashInvocation): Promise<number> {
  const total = Math.round(seconds * rate);
  const intervalMs = 1000 / rate;
  const acks: Promise<number>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const delay = start + i * intervalMs - performance.now();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const handle: InteractionHandle = emulator.invokeSlash(invocation(i));
    acks.push(handle.waitForAck({ timeoutMs: 5_000 }).then((ack) => ack.at - handle.record.createdAtMs));
  }
  const sentSeconds = (performance.now() - start) / 1000;
  const latencies = (await Promise.all(acks)).sort((a, b) => a - b);
  const p99 = percentile(latencies, 99);
  console.log(
    `${label.padEnd(14)} ${total} interactions in ${sentSeconds.toFixed(1)} s (${(total / sentSeconds).toFixed(0)}/s)  ` +
      `ack p50 ${percentile(latencies, 50)} ms  p90 ${percentile(latencies, 90)} ms  p99 ${p99} ms  ` +
      `max ${latencies[latencies.length - 1]} ms  ${p99 <= TARGET_P99_MS ? 'ok' : `over the ${TARGET_P99_MS} ms target`}`,
  );
  return p99;
}

let worst = 0;
try {
  // A few tasks so that list has something to render.
  for (let i = 0; i < 20; i++) {
    await bot.runtime.create(guild.id, {
      name: `seed-${i}`,
      kind: 'reminder',
      options: { message: 'seed' },
      schedule: { kind: 'interval', seconds: 3600 },
      channelId: guild.channels.general!,
      createdBy: base.user,
    });
  }
  console.log(
    `/task acknowledgement latency at ${rate}/s for ${seconds} s each (target p99 <= ${TARGET_P99_MS} ms)`,
  );
  worst = Math.max(worst, await measure('/task list', () => ({ ...base, subcommand: 'list' })));
  worst = Math.max(
    worst,
    await measure('/task create', (i) => ({
      ...base,
      group: 'create',
      subcommand: 'reminder',
      // count 1: each reminder posts once and completes, as a busy server's one-off reminders would.
      options: { name: `bench-${i}`, channel: base.channel, every: '1h', count: 1, message: `bench ${i}` },
    })),
  );
} finally {
  await bot.stop();
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(worst <= TARGET_P99_MS ? 0 : 1);
