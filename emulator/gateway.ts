import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import {
  type APIInteraction,
  type APIMessage,
  type ApplicationFlags,
  GatewayCloseCodes,
  GatewayDispatchEvents,
  GatewayOpcodes,
  type GatewayReadyDispatchData,
  type GatewayRequestGuildMembersData,
} from 'discord-api-types/v10';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  type Connection,
  ConnectionTable,
  type DispatchPayload,
  type Session,
} from './gateway-connections.js';
import { checkIdentify, isRecord, parseShardOf } from './gateway-identify.js';
import { isAllowedByIntents, needsContentStripping, withoutPrivilegedContent } from './intents.js';
import { WaitableLog, type WaitOptions } from './log.js';
import { memberChunks } from './member-chunks.js';
import { type SessionStartLimit, shardOfGuild } from './shards.js';
import type { World } from './world.js';

export { PRIVILEGED_INTENTS } from './gateway-identify.js';
export const GATEWAY_PATH = '/gateway';
const RESUME_BUFFER_SIZE = 1_000;

/** Close codes after which Discord forgets the session: the client must identify again. */
const SESSION_ENDING_CLOSE_CODES: ReadonlySet<number> = new Set([
  1000,
  1001,
  GatewayCloseCodes.AuthenticationFailed,
  GatewayCloseCodes.InvalidSeq,
  GatewayCloseCodes.SessionTimedOut,
  GatewayCloseCodes.InvalidShard,
  GatewayCloseCodes.ShardingRequired,
  GatewayCloseCodes.InvalidAPIVersion,
  GatewayCloseCodes.InvalidIntents,
  GatewayCloseCodes.DisallowedIntents,
]);

export interface GatewayFrame {
  direction: 'sent' | 'received';
  /** Increments with every WebSocket connection, so tests can tell reconnects apart. */
  connection: number;
  /** The shard id the connection identified or resumed as; null before that (HELLO, the IDENTIFY itself…). */
  shard: number | null;
  op: number;
  t: string | null;
  s: number | null;
  d: unknown;
  at: number;
}

export interface GatewayOptions {
  world: World;
  token: string;
  heartbeatIntervalMs: number;
  /** Privileged intents enabled for the bot in the (emulated) Developer Portal, as an intents bitfield. */
  enabledPrivilegedIntents: number;
  /** IDENTIFY is closed with 4011 when its shard count leaves one shard with more guilds than this. */
  maxGuildsPerShard: number;
  /** Counts IDENTIFYs for GET /gateway/bot's `session_start_limit`. */
  sessionStartLimit: SessionStartLimit;
  /** Keep only the latest this many frames in `frames` (Infinity keeps all). */
  frameHistory: number;
  reportUnexpected: (description: string) => void;
}

/**
 * The gateway: HELLO, heartbeats, IDENTIFY → READY → GUILD_CREATE, RESUME with replay, and every world
 * change as a sequenced dispatch filtered by the session's intents. Plain JSON text frames only.
 *
 * Sharded as on Discord: IDENTIFY's `shard: [id, count]` (absent = [0, 1]) picks the guilds a session gets;
 * every guild event goes only to the session of the shard that owns the guild. One connection per shard: a
 * shard that identifies or resumes again replaces its previous connection.
 */
export class Gateway {
  readonly frames: WaitableLog<GatewayFrame>;
  #server: WebSocketServer | null = null;
  #url = '';
  #connectionCount = 0;
  readonly #connections = new ConnectionTable();
  readonly #sessions = new Map<string, Session>();
  #ackHeartbeats = true;
  /** While set, WebSocket upgrades are answered 503: the gateway is down for everyone. */
  #refusing = false;
  /** Shards in an outage of their own (refuseConnections(shard)): their IDENTIFY and RESUME are closed. */
  readonly #refusedShards = new Set<number>();
  #refused = 0;

  constructor(private readonly options: GatewayOptions) {
    this.frames = new WaitableLog<GatewayFrame>({ retain: options.frameHistory });
    options.world.onDispatch((event, data, guildId) => this.#dispatchToAll(event, data, guildId));
    options.world.onGuildAvailable((guildId) => this.#announceGuild(guildId));
  }

  attach(server: Server, url: string): void {
    this.#url = url;
    this.#server = new WebSocketServer({
      server,
      path: GATEWAY_PATH,
      verifyClient: (_info, accept) => {
        if (!this.#refusing) return accept(true);
        this.#refused++;
        accept(false, 503, 'Service Unavailable');
      },
    });
    this.#server.on('connection', (socket, request) => this.#onConnection(socket, request));
  }

  get url(): string {
    return this.#url;
  }

  /** Connection attempts refused by refuseConnections (an HTTP 503, or a shard's IDENTIFY/RESUME closed) so far. */
  get refusedConnections(): number {
    return this.#refused;
  }

  /** Whether any client connection is open (identified or not). */
  get connected(): boolean {
    return this.#connections.size > 0;
  }

  /** Shard ids with an open, identified (or resumed) connection, ascending. */
  connectedShards(): number[] {
    return this.#connections.shards();
  }

  /** The IDENTIFYs counted so far against the daily limit, as GET /gateway/bot reports them. */
  get sessionStartLimit(): SessionStartLimit {
    return this.options.sessionStartLimit;
  }

  /**
   * INTERACTION_CREATE to the session of the shard that owns the interaction's guild (shard 0 for a DM),
   * buffered for RESUME when that shard is disconnected.
   */
  sendInteraction(payload: APIInteraction): void {
    this.#dispatchToAll(GatewayDispatchEvents.InteractionCreate, payload, payload.guild_id ?? null);
  }

  // ---- fault injection ---------------------------------------------------------------------------

  /**
   * Closes the current connection. 4000-style codes keep the session for RESUME; 1000, 4004… end it. With
   * several shards connected, use closeShard.
   */
  close(code: number, reason = 'Closed by the emulator'): void {
    this.#close(this.#connections.require(), code, reason);
  }

  /** Closes one shard's connection (as close() does for the only one): to test that shard's reconnect. */
  closeShard(shardId: number, code: number, reason = 'Closed by the emulator'): void {
    this.#close(this.#connections.require(shardId), code, reason);
  }

  /**
   * An outage: closes every connection (with 4000, which keeps the sessions, so clients resume once it is
   * over) and answers every new connection attempt with 503 instead of a WebSocket, as Discord's edge
   * does while the gateway is down, until acceptConnections().
   */
  refuseConnections(shard?: number): void {
    if (shard !== undefined) {
      // One shard's outage: its socket closes, and every IDENTIFY or RESUME for it is closed with 4000 (the
      // connection itself is accepted: which shard it is for is known only once it identifies).
      this.#refusedShards.add(shard);
      if (this.#connections.shards().includes(shard)) {
        this.#close(this.#connections.require(shard), GatewayCloseCodes.UnknownError, 'Gateway unavailable');
      }
      return;
    }
    this.#refusing = true;
    for (const connection of this.#connections.all())
      this.#close(connection, GatewayCloseCodes.UnknownError, 'Gateway unavailable');
  }

  /** Ends an outage begun by refuseConnections (of `shard`, if given): the next attempt connects (and may RESUME). */
  acceptConnections(shard?: number): void {
    if (shard !== undefined) this.#refusedShards.delete(shard);
    else this.#refusing = false;
  }

  /** Closes a connection whose shard is in an outage of its own; true if it did. */
  #refusedShard(connection: Connection, shard: number): boolean {
    if (!this.#refusedShards.has(shard)) return false;
    this.#refused++;
    connection.socket.close(GatewayCloseCodes.UnknownError, 'Gateway unavailable');
    return true;
  }

  /** Sends op 7 RECONNECT: the client should reconnect and resume. `shard` names one of several. */
  requestReconnect(shard?: number): void {
    this.#send(this.#connections.require(shard), { op: GatewayOpcodes.Reconnect, d: null });
  }

  /**
   * Sends op 9 INVALID_SESSION; a non-resumable one also forgets the session. `shard` names one of several.
   */
  invalidateSession(resumable: boolean, shard?: number): void {
    const connection = this.#connections.require(shard);
    if (!resumable && connection.session) {
      this.#sessions.delete(connection.session.id);
      this.#connections.detach(connection);
    }
    this.#send(connection, { op: GatewayOpcodes.InvalidSession, d: resumable });
  }

  /** Stops (or resumes) answering heartbeats, so the client declares a zombie connection. */
  setHeartbeatAcks(enabled: boolean): void {
    this.#ackHeartbeats = enabled;
  }

  // ---- observation -------------------------------------------------------------------------------

  waitForDispatch(
    event: GatewayDispatchEvents,
    predicate: (d: unknown) => boolean = () => true,
    options?: WaitOptions,
  ): Promise<GatewayFrame> {
    return this.frames.waitFor(
      (f) => f.direction === 'sent' && f.t === event && predicate(f.d),
      `gateway dispatch ${event}`,
      options,
    );
  }

  /** Waits for the next op sent by the client (IDENTIFY = 2, RESUME = 6, HEARTBEAT = 1…), ignoring older ones. */
  waitForNextOp(op: GatewayOpcodes, options?: WaitOptions): Promise<GatewayFrame> {
    return this.frames.waitForNext(
      (f) => f.direction === 'received' && f.op === op,
      `gateway op ${op}`,
      options,
    );
  }

  /**
   * Waits for an IDENTIFY for `shardId` (its `shard` field; absent counts as shard 0), including one already
   * received; `{ next: true }` ignores those and waits for a new one (after closeShard, say).
   */
  waitForIdentify(shardId: number, options: WaitOptions & { next?: boolean } = {}): Promise<GatewayFrame> {
    const matches = (f: GatewayFrame) =>
      f.direction === 'received' && f.op === GatewayOpcodes.Identify && parseShardOf(f.d)?.[0] === shardId;
    const what = `IDENTIFY for shard ${shardId}`;
    return options.next
      ? this.frames.waitForNext(matches, what, options)
      : this.frames.waitFor(matches, what, options);
  }

  /** Waits until a READY or RESUMED is sent after the moment of the call (to `shard` only, if given). */
  waitForNextSession(options: WaitOptions & { shard?: number } = {}): Promise<GatewayFrame> {
    return this.frames.waitForNext(
      (f) =>
        f.direction === 'sent' &&
        (f.t === GatewayDispatchEvents.Ready || f.t === GatewayDispatchEvents.Resumed) &&
        (options.shard === undefined || f.shard === options.shard),
      options.shard === undefined ? 'READY or RESUMED' : `READY or RESUMED on shard ${options.shard}`,
      options,
    );
  }

  countReceived(op: GatewayOpcodes): number {
    return this.frames.entries.filter((f) => f.direction === 'received' && f.op === op).length;
  }

  async shutdown(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- connection lifecycle ----------------------------------------------------------------------

  #onConnection(socket: WebSocket, request: IncomingMessage): void {
    const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
    if (query.get('v') !== '10' || (query.get('encoding') ?? 'json') !== 'json' || query.has('compress')) {
      this.options.reportUnexpected(`gateway connection with unsupported query: ${request.url}`);
      socket.close(
        GatewayCloseCodes.InvalidAPIVersion,
        'The emulator speaks v=10, encoding=json, uncompressed',
      );
      return;
    }
    // Discord allows one connection per shard: once this one identifies or resumes, it replaces the old.
    const connection: Connection = { number: ++this.#connectionCount, socket, session: null };
    this.#connections.add(connection);
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        this.options.reportUnexpected('binary gateway frame (etf/zlib is not supported)');
        socket.close(GatewayCloseCodes.DecodeError, 'Decode error');
        return;
      }
      this.#onFrame(connection, data.toString());
    });
    socket.on('close', (code) => {
      // A client that closes with 1000/1001 ends its session, as on Discord.
      if ((code === 1000 || code === 1001) && connection.session)
        this.#sessions.delete(connection.session.id);
      this.#connections.detach(connection);
    });
    this.#send(connection, {
      op: GatewayOpcodes.Hello,
      d: { heartbeat_interval: this.options.heartbeatIntervalMs },
    });
  }

  #onFrame(connection: Connection, text: string): void {
    let payload: { op?: unknown; d?: unknown };
    try {
      payload = JSON.parse(text) as { op?: unknown; d?: unknown };
    } catch {
      connection.socket.close(GatewayCloseCodes.DecodeError, 'Decode error');
      return;
    }
    const op = typeof payload.op === 'number' ? payload.op : -1;
    this.frames.push({
      direction: 'received',
      connection: connection.number,
      shard: connection.session?.shard[0] ?? null,
      op,
      t: null,
      s: null,
      d: payload.d,
      at: Date.now(),
    });
    switch (op) {
      case GatewayOpcodes.Heartbeat:
        if (this.#ackHeartbeats) this.#send(connection, { op: GatewayOpcodes.HeartbeatAck });
        return;
      case GatewayOpcodes.Identify:
        this.#identify(connection, payload.d);
        return;
      case GatewayOpcodes.Resume:
        this.#resume(connection, payload.d);
        return;
      case GatewayOpcodes.RequestGuildMembers:
        this.#requestGuildMembers(connection, payload.d as GatewayRequestGuildMembersData);
        return;
      case GatewayOpcodes.PresenceUpdate:
      case GatewayOpcodes.VoiceStateUpdate:
        return;
      default:
        this.options.reportUnexpected(`gateway op ${op} is not emulated`);
        connection.socket.close(GatewayCloseCodes.UnknownOpcode, 'Unknown opcode');
    }
  }

  #identify(connection: Connection, d: unknown): void {
    if (connection.session) {
      connection.socket.close(GatewayCloseCodes.AlreadyAuthenticated, 'Already authenticated');
      return;
    }
    const { world } = this.options;
    const allGuildIds = world.botGuildIds();
    const identify = checkIdentify(d, { ...this.options, botGuildIds: allGuildIds });
    if (!identify.accepted) {
      connection.socket.close(identify.code, identify.reason);
      return;
    }
    const { shard } = identify;
    if (this.#refusedShard(connection, shard[0])) return;
    this.options.sessionStartLimit.take();
    const session: Session = {
      id: randomBytes(16).toString('hex'),
      intents: identify.intents,
      shard,
      largeThreshold: identify.largeThreshold,
      seq: 0,
      sent: [],
      connection: null,
    };
    this.#sessions.set(session.id, session);
    this.#connections.attach(connection, session);
    const guildIds = allGuildIds.filter((id) => shardOfGuild(id, shard[1]) === shard[0]);
    const ready: GatewayReadyDispatchData = {
      v: 10,
      user: { ...world.apiUser(world.botUser.id), verified: true, mfa_enabled: false },
      guilds: guildIds.map((id) => ({ id, unavailable: true })),
      session_id: session.id,
      resume_gateway_url: this.#url,
      shard: [shard[0], shard[1]],
      application: { id: world.applicationId, flags: 0 as ApplicationFlags, flags_new: '0' },
    };
    this.#dispatch(session, GatewayDispatchEvents.Ready, ready);
    // Every guild announced as unavailable in READY must follow, or discord.js waits 15 s for it.
    for (const guildId of guildIds) {
      this.#dispatch(
        session,
        GatewayDispatchEvents.GuildCreate,
        world.guildCreatePayload(guildId, { largeThreshold: session.largeThreshold }),
      );
    }
  }

  #resume(connection: Connection, d: unknown): void {
    const resume = isRecord(d) ? d : {};
    const session = typeof resume.session_id === 'string' ? this.#sessions.get(resume.session_id) : undefined;
    if (!session || resume.token !== this.options.token) {
      this.#send(connection, { op: GatewayOpcodes.InvalidSession, d: false });
      return;
    }
    if (this.#refusedShard(connection, session.shard[0])) return;
    const lastSeen = typeof resume.seq === 'number' ? resume.seq : 0;
    if (session.sent.length > 0 && session.sent[0]!.s > lastSeen + 1) {
      // The events the client missed are no longer buffered: it must start over.
      this.#sessions.delete(session.id);
      this.#send(connection, { op: GatewayOpcodes.InvalidSession, d: false });
      return;
    }
    // Marked as the session's shard before the replay, so the replayed frames are recorded under it.
    connection.session = session;
    for (const payload of session.sent) {
      if (payload.s > lastSeen) this.#send(connection, payload);
    }
    this.#connections.attach(connection, session);
    this.#dispatch(session, GatewayDispatchEvents.Resumed, {});
  }

  #requestGuildMembers(connection: Connection, d: GatewayRequestGuildMembersData): void {
    const session = connection.session;
    if (!session) {
      connection.socket.close(GatewayCloseCodes.NotAuthenticated, 'Not authenticated');
      return;
    }
    const guildId = String(d.guild_id);
    if (shardOfGuild(guildId, session.shard[1]) !== session.shard[0]) {
      this.options.reportUnexpected(
        `REQUEST_GUILD_MEMBERS for guild ${guildId}, not on shard ${session.shard[0]}`,
      );
      return;
    }
    for (const chunk of memberChunks(this.options.world, d)) {
      this.#dispatch(session, GatewayDispatchEvents.GuildMembersChunk, chunk);
    }
  }

  // ---- sending -----------------------------------------------------------------------------------

  /** To every session of the shard that owns `guildId` (shard 0 for none) whose intents allow the event. */
  #dispatchToAll(event: GatewayDispatchEvents, data: unknown, guildId: string | null): void {
    for (const session of this.#sessions.values()) {
      if (shardOfGuild(guildId, session.shard[1]) !== session.shard[0]) continue;
      if (isAllowedByIntents(event, session.intents)) this.#dispatch(session, event, data);
    }
  }

  /** The bot joined a guild: GUILD_CREATE, built for each owning session's large_threshold. */
  #announceGuild(guildId: string): void {
    for (const session of this.#sessions.values()) {
      if (shardOfGuild(guildId, session.shard[1]) !== session.shard[0]) continue;
      const payload = this.options.world.guildCreatePayload(guildId, {
        largeThreshold: session.largeThreshold,
      });
      this.#dispatch(session, GatewayDispatchEvents.GuildCreate, payload);
    }
  }

  #dispatch(session: Session, event: GatewayDispatchEvents, data: unknown): void {
    const d = needsContentStripping(event, session.intents)
      ? withoutPrivilegedContent(data as APIMessage, this.options.world.botUser.id)
      : data;
    const payload: DispatchPayload = { op: GatewayOpcodes.Dispatch, t: event, s: ++session.seq, d };
    session.sent.push(payload);
    if (session.sent.length > RESUME_BUFFER_SIZE) session.sent.shift();
    if (session.connection) this.#send(session.connection, payload);
  }

  #send(connection: Connection, payload: { op: number; d?: unknown; t?: string; s?: number }): void {
    if (connection.socket.readyState !== connection.socket.OPEN) return;
    connection.socket.send(JSON.stringify({ t: null, s: null, d: null, ...payload }));
    this.frames.push({
      direction: 'sent',
      connection: connection.number,
      shard: connection.session?.shard[0] ?? null,
      op: payload.op,
      t: payload.t ?? null,
      s: payload.s ?? null,
      d: payload.d,
      at: Date.now(),
    });
  }

  #close(connection: Connection, code: number, reason: string): void {
    if (SESSION_ENDING_CLOSE_CODES.has(code) && connection.session)
      this.#sessions.delete(connection.session.id);
    this.#connections.detach(connection);
    connection.socket.close(code, reason);
  }
}
