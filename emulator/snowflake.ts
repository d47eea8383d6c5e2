/** Discord's epoch (2015-01-01T00:00:00.000Z): snowflakes count milliseconds from here. */
const DISCORD_EPOCH_MS = 1_420_070_400_000n;

/**
 * Generates timestamp-based snowflakes exactly as Discord lays them out (42 bits of time, 5 worker,
 * 5 process, 12 increment), so discord.js derives real creation dates from emulator ids.
 */
export class SnowflakeGenerator {
  #increment = 0n;

  constructor(
    private readonly workerId = 1n,
    private readonly processId = 0n,
  ) {}

  next(timestampMs: number = Date.now()): string {
    const increment = this.#increment;
    this.#increment = (this.#increment + 1n) & 0xfffn;
    const sinceEpoch = BigInt(timestampMs) - DISCORD_EPOCH_MS;
    return ((sinceEpoch << 22n) | (this.workerId << 17n) | (this.processId << 12n) | increment).toString();
  }
}

export function timestampOfSnowflake(id: string): number {
  return Number((BigInt(id) >> 22n) + DISCORD_EPOCH_MS);
}
