// The gateway's sessions and WebSocket connections, and which connection serves which shard: one per
// shard, as on Discord, so a shard that identifies or resumes again replaces its previous connection.
import type { GatewayDispatchEvents, GatewayOpcodes } from 'discord-api-types/v10';
import type { WebSocket } from 'ws';
import type { ShardTuple } from './shards.js';

export interface DispatchPayload {
  op: GatewayOpcodes.Dispatch;
  t: GatewayDispatchEvents;
  s: number;
  d: unknown;
}

export interface Session {
  id: string;
  intents: number;
  shard: ShardTuple;
  /** IDENTIFY's large_threshold: a guild with more members arrives `large`, without its member list. */
  largeThreshold: number;
  seq: number;
  /** Dispatches kept for RESUME, including those sent while no socket was attached. */
  sent: DispatchPayload[];
  connection: Connection | null;
}

export interface Connection {
  number: number;
  socket: WebSocket;
  session: Session | null;
}

/** Open connections, oldest first, that have not been replaced or closed by the emulator. */
export class ConnectionTable {
  readonly #open = new Set<Connection>();

  get size(): number {
    return this.#open.size;
  }

  all(): Connection[] {
    return [...this.#open];
  }

  add(connection: Connection): void {
    this.#open.add(connection);
  }

  /** Shard ids with an open, identified (or resumed) connection, ascending. */
  shards(): number[] {
    const shards = new Set<number>();
    for (const connection of this.#open) if (connection.session) shards.add(connection.session.shard[0]);
    return [...shards].sort((a, b) => a - b);
  }

  /** The connection now carries the session; any other connection of the same shard is replaced. */
  attach(connection: Connection, session: Session): void {
    for (const other of this.#open) {
      if (other !== connection && other.session?.shard[0] === session.shard[0]) this.detach(other);
    }
    connection.session = session;
    session.connection = connection;
    // A connection whose session was invalidated (op 9) may identify again on the same socket.
    this.#open.add(connection);
  }

  /** The connection no longer receives its session's events (they are buffered for a RESUME). */
  detach(connection: Connection): void {
    if (connection.session?.connection === connection) connection.session.connection = null;
    this.#open.delete(connection);
  }

  /**
   * The connection of `shard`, or without one, the only shard's latest connection (so single-shard tests
   * need not name it); throws when there is none or several shards would fit.
   */
  require(shard?: number): Connection {
    const open = [...this.#open];
    if (shard !== undefined) {
      const found = open.findLast((c) => c.session?.shard[0] === shard);
      if (!found) throw new Error(`Shard ${shard} is not connected to the emulated gateway`);
      return found;
    }
    const latest = open.at(-1);
    if (!latest) throw new Error('No client is connected to the emulated gateway');
    const shards = this.shards();
    if (shards.length > 1) throw new Error(`Shards ${shards.join(', ')} are connected: name one`);
    return latest;
  }
}
