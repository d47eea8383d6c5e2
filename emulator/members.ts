// A guild's members: those stored one by one (the owner, the bot, members a test named) and synthetic ones,
// generated on demand from an index so that 10,000 guilds of 1,000 members cost almost nothing until a test
// changes one (a changed synthetic member is stored from then on, and its generated form retired).
import type { GuildSpec, MemberRecord, UserRecord } from './world-records.js';

/** Discord's epoch, 2015-01-01: snowflakes count milliseconds from here. */
const DISCORD_EPOCH_MS = 1_420_070_400_000n;
/** Synthetic users joined Discord from 2020-01-01 on (before any guild the test makes). */
const SYNTHETIC_EPOCH_MS = BigInt(Date.UTC(2020, 0, 1)) - DISCORD_EPOCH_MS;
/** Worker and process bits all ones: the World's own snowflakes (worker 1) never look like this. */
const SYNTHETIC_MARK = 0x3ffn;
const PER_MS = 4_096n;

/** What a guild's synthetic members are: `count` of them, the last `bots` of which are bots. */
export interface SyntheticMembersSpec {
  count: number;
  bots: number;
  /** Roles the first `count` synthetic members hold (humans first, then bots). */
  roles: { roleId: string; count: number }[];
  /** When they joined: the guild's creation. */
  joinedAt: string;
}

/**
 * A guild spec's synthetic members and online count, checked: the counts are totals, the listed members (owner,
 * bot, `members`) included, so the synthetic ones make up the difference. Throws, naming the field, when the
 * numbers cannot be.
 */
export function syntheticMembersOf(
  spec: GuildSpec,
  guild: { listed: number; listedBots: number; roleId: (name: string) => string; joinedAt: string },
): { synthetic: SyntheticMembersSpec; onlineCount: number } {
  const what = `createGuild(${spec.name})`;
  const { listed, listedBots } = guild;
  const total = spec.memberCount ?? listed;
  const bots = spec.botCount ?? listedBots;
  const count = total - listed;
  if (!Number.isInteger(total) || count < 0)
    throw new Error(`${what}: memberCount must be a whole number of at least ${listed} (the listed members)`);
  if (!Number.isInteger(bots) || bots < listedBots || bots > listedBots + count)
    throw new Error(`${what}: botCount must be between ${listedBots} and ${listedBots + count}`);
  const roles = Object.entries(spec.memberRoles ?? {}).map(([name, holders]) => {
    if (!Number.isInteger(holders) || holders < 0 || holders > count)
      throw new Error(`${what}: memberRoles.${name} must be between 0 and ${count} (the synthetic members)`);
    return { roleId: guild.roleId(name), count: holders };
  });
  const onlineCount = spec.onlineCount ?? 0;
  if (!Number.isInteger(onlineCount) || onlineCount < 0 || onlineCount > total)
    throw new Error(`${what}: onlineCount must be between 0 and ${total}`);
  return { synthetic: { count, bots: bots - listedBots, roles, joinedAt: guild.joinedAt }, onlineCount };
}

interface Block {
  /** Position of the block's first member in the world's synthetic id space. */
  start: number;
  roster: MemberRoster;
}

/**
 * The world's synthetic id space: each guild takes a contiguous block, and a synthetic user id encodes its
 * position as a snowflake (2020 timestamp, worker and process bits all ones), so ids ascend with the index.
 */
export class SyntheticIds {
  readonly #blocks: Block[] = [];
  #next = 0;

  /** Reserves `size` ids for the roster's synthetic members; returns the first position. */
  allocate(size: number, roster: MemberRoster): number {
    const start = this.#next;
    this.#next += size;
    if (size > 0) this.#blocks.push({ start, roster });
    return start;
  }

  idAt(position: number): bigint {
    const p = BigInt(position);
    return ((SYNTHETIC_EPOCH_MS + p / PER_MS) << 22n) | (SYNTHETIC_MARK << 12n) | (p % PER_MS);
  }

  /** The roster and index a synthetic user id belongs to, or null for any other id. */
  locate(userId: string): { roster: MemberRoster; index: number } | null {
    let id: bigint;
    try {
      id = BigInt(userId);
    } catch {
      return null;
    }
    if (((id >> 12n) & SYNTHETIC_MARK) !== SYNTHETIC_MARK) return null;
    const position = Number(((id >> 22n) - SYNTHETIC_EPOCH_MS) * PER_MS + (id & 0xfffn));
    if (position < 0 || position >= this.#next) return null;
    // Blocks are allocated in ascending order: binary search for the last one starting at or before it.
    let low = 0;
    let high = this.#blocks.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.#blocks[middle]!.start <= position) low = middle;
      else high = middle - 1;
    }
    const block = this.#blocks[low];
    if (!block) return null;
    const index = position - block.start;
    return index < block.roster.syntheticSize ? { roster: block.roster, index } : null;
  }
}

/**
 * A guild's members, Map-like: stored records plus the synthetic ones that are still served as generated
 * (not removed, not changed). Iteration and paging go stored first for `values()`, ascending id for `page()`.
 */
export class MemberRoster {
  readonly #stored = new Map<string, MemberRecord>();
  #synthetic: SyntheticMembersSpec = { count: 0, bots: 0, roles: [], joinedAt: '' };
  #start = 0;
  /** Synthetic indices no longer served as generated: removed, or stored after a change. */
  readonly #retired = new Set<number>();

  constructor(private readonly ids: SyntheticIds) {}

  /** Gives the guild its synthetic members, once, after its stored ones. */
  addSynthetic(synthetic: SyntheticMembersSpec): void {
    if (this.#synthetic.count > 0) throw new Error('the guild already has synthetic members');
    this.#synthetic = synthetic;
    this.#start = this.ids.allocate(synthetic.count, this);
  }

  /** How many synthetic members the guild was made with (retired ones included). */
  get syntheticSize(): number {
    return this.#synthetic.count;
  }

  get size(): number {
    return this.#stored.size + this.#synthetic.count - this.#retired.size;
  }

  has(userId: string): boolean {
    return this.#stored.has(userId) || this.#servedIndex(userId) !== null;
  }

  get(userId: string): MemberRecord | undefined {
    const stored = this.#stored.get(userId);
    if (stored) return stored;
    const index = this.#servedIndex(userId);
    return index === null ? undefined : this.#generated(index);
  }

  /** Stores a member; a synthetic one is from then on served from here, not generated. */
  set(userId: string, member: MemberRecord): void {
    const index = this.#indexOf(userId);
    if (index !== null) this.#retired.add(index);
    this.#stored.set(userId, member);
  }

  delete(userId: string): boolean {
    if (this.#stored.delete(userId)) return true;
    const index = this.#servedIndex(userId);
    if (index === null) return false;
    this.#retired.add(index);
    return true;
  }

  /** Every member: stored first, then synthetic ones in index order. */
  *values(): IterableIterator<MemberRecord> {
    yield* this.#stored.values();
    for (let index = 0; index < this.#synthetic.count; index++) {
      if (!this.#retired.has(index)) yield this.#generated(index);
    }
  }

  *keys(): IterableIterator<string> {
    for (const member of this.values()) yield member.userId;
  }

  /** Only the stored members (the ones a change can have touched). */
  stored(): IterableIterator<MemberRecord> {
    return this.#stored.values();
  }

  /** Up to `limit` member ids above `after`, ascending: GET /guilds/:id/members, without listing them all. */
  page(after: bigint, limit: number): string[] {
    const stored = [...this.#stored.keys()].filter((id) => BigInt(id) > after);
    const synthetic: string[] = [];
    for (let index = this.#firstIndexAbove(after); index < this.#synthetic.count; index++) {
      if (synthetic.length >= limit) break;
      if (!this.#retired.has(index)) synthetic.push(this.#idAt(index));
    }
    return [...stored, ...synthetic]
      .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0))
      .slice(0, limit);
  }

  /** The synthetic member at `index` (0-based) as its user id, whether or not it is still a member. */
  syntheticId(index: number): string {
    if (!Number.isInteger(index) || index < 0 || index >= this.#synthetic.count) {
      throw new RangeError(`no synthetic member ${index}: the guild has ${this.#synthetic.count}`);
    }
    return this.#idAt(index);
  }

  /** The user behind a synthetic id of this roster: `user-<position>` or `bot-<position>`. */
  syntheticUser(index: number): UserRecord {
    const bot = index >= this.#synthetic.count - this.#synthetic.bots;
    return {
      id: this.#idAt(index),
      username: `${bot ? 'bot' : 'user'}-${this.#start + index}`,
      globalName: null,
      bot,
    };
  }

  /** A deleted role leaves every member, synthetic ones included. */
  dropRole(roleId: string): void {
    this.#synthetic.roles = this.#synthetic.roles.filter((r) => r.roleId !== roleId);
    for (const member of this.#stored.values()) member.roleIds = member.roleIds.filter((id) => id !== roleId);
  }

  #idAt(index: number): string {
    return this.ids.idAt(this.#start + index).toString();
  }

  #generated(index: number): MemberRecord {
    return {
      userId: this.#idAt(index),
      roleIds: this.#synthetic.roles.filter((r) => index < r.count).map((r) => r.roleId),
      nick: null,
      joinedAt: this.#synthetic.joinedAt,
    };
  }

  /** The synthetic index of a user id of this roster, served or not. */
  #indexOf(userId: string): number | null {
    const found = this.ids.locate(userId);
    return found?.roster === this ? found.index : null;
  }

  /** The synthetic index of a user id still served as generated. */
  #servedIndex(userId: string): number | null {
    const index = this.#indexOf(userId);
    return index === null || this.#retired.has(index) ? null : index;
  }

  /** Ids ascend with the index: binary search for the first above `after`. */
  #firstIndexAbove(after: bigint): number {
    let low = 0;
    let high = this.#synthetic.count;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.ids.idAt(this.#start + middle) > after) high = middle;
      else low = middle + 1;
    }
    return low;
  }
}
