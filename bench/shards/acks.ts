// The shards bench's command latency: `/task list` sent by servers' admins across every shard through the
// emulator's interactions API, each timed from INTERACTION_CREATE to the bot's first response, as
// bench/commands.ts times its acks.
import { type Emulator, shardOfGuild } from '../../emulator/index.js';
import type { BenchGuild } from './world.js';

export interface Ack {
  shard: number;
  ms: number | undefined;
}

/**
 * `count` `/task list` from each server's admin, on a fixed grid over `spanMs`, taking servers from every shard
 * in turn; each measured from the emulator's INTERACTION_CREATE to the bot's first response.
 */
export async function sendTaskLists(
  emulator: Emulator,
  guilds: readonly BenchGuild[],
  shardCount: number,
  spanMs: number,
  count: number,
): Promise<Ack[]> {
  const byShard = Array.from({ length: shardCount }, () => [] as BenchGuild[]);
  for (const guild of guilds) byShard[shardOfGuild(guild.id, shardCount)]!.push(guild);
  const picks: BenchGuild[] = [];
  for (let i = 0; picks.length < count; i++) {
    const shard = byShard[i % shardCount]!;
    if (shard.length > 0) picks.push(shard[Math.floor(i / shardCount) % shard.length]!);
    if (i > count * shardCount) throw new Error('no server with tasks to send /task list in');
  }
  const start = performance.now();
  const answers: Promise<Ack>[] = [];
  for (const [i, guild] of picks.entries()) {
    const delay = start + (i * spanMs) / count - performance.now();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const handle = emulator.invokeSlash({
      command: 'task',
      subcommand: 'list',
      user: guild.admin,
      guild: guild.id,
      channel: guild.textChannel,
    });
    const shard = shardOfGuild(guild.id, shardCount);
    answers.push(
      handle.waitForAck({ timeoutMs: 5_000 }).then(
        (ack) => ({ shard, ms: ack.at - handle.record.createdAtMs }),
        () => ({ shard, ms: undefined }),
      ),
    );
  }
  return Promise.all(answers);
}

/** Prints the acks' percentiles, in all and per shard; returns the p99 (undefined if none was answered). */
export function reportAcks(acks: Ack[], shardCount: number, spanSeconds: number): number | undefined {
  const line = (list: Ack[]) => {
    const answered = list.flatMap((ack) => (ack.ms === undefined ? [] : [ack.ms])).sort((a, b) => a - b);
    const missing = list.length - answered.length;
    if (answered.length === 0) return { text: `none of ${list.length} answered`, p99: undefined };
    const p = (q: number) => answered[Math.min(answered.length - 1, Math.ceil(q * answered.length) - 1)]!;
    return {
      text:
        `p50 ${p(0.5)} ms, p90 ${p(0.9)} ms, p99 ${p(0.99)} ms, max ${answered.at(-1)} ms` +
        (missing > 0 ? `, ${missing} unanswered in 5 s` : ''),
      p99: missing > 0 ? Number.POSITIVE_INFINITY : p(0.99),
    };
  };
  const all = line(acks);
  const perShard = Array.from(
    { length: shardCount },
    (_, shard) => `shard ${shard}: ${line(acks.filter((ack) => ack.shard === shard)).text}`,
  );
  console.log(`  /task list ack: ${acks.length} over ${spanSeconds} s, ${all.text}`);
  console.log(`    ${perShard.join('\n    ')}`);
  return all.p99;
}
