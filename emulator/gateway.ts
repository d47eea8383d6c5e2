import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import {
  type APIInteraction,
  type APIMessage,
  type ApplicationFlags,
  GatewayCloseCodes,
  GatewayDispatchEvents,
  type GatewayGuildMembersChunkDispatchData,
  GatewayIntentBits,
  GatewayOpcodes,
  type GatewayReadyDispatchData,
  type GatewayRequestGuildMembersData,
} from 'discord-api-types/v10';
import { type WebSocket, WebSocketServer } from 'ws';
import { isAllowedByIntents, needsContentStripping, withoutPrivilegedContent } from './intents.js';
import { WaitableLog, type WaitOptions } from './log.js';
import type { World } from './world.js';

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
  op: number;
  t: string | null;
  s: number | null;
  d: unknown;
  at: number;
}

interface DispatchPayload {
  op: GatewayOpcodes.Dispatch;
  t: GatewayDispatchEvents;
  s: number;
  d: unknown;
}

interface Session {
  id: string;
  intents: number;
  seq: number;
  /** Dispatches kept for RESUME, including those sent while no socket was attached. */
  sent: DispatchPayload[];
  socket: WebSocket | null;
}

interface Connection {
  number: number;
  socket: WebSocket;
  session: Session | null;
}

export interface GatewayOptions {
  world: World;
  token: string;
  heartbeatIntervalMs: number;
  /** Privileged intents enabled for the bot in the (emulated) Developer Portal, as an intents bitfield. */
  enabledPrivilegedIntents: number;
  reportUnexpected: (description: string) => void;
}

/** Intents Discord refuses (close 4014) unless they are enabled for the application. */
export const PRIVILEGED_INTENTS =
  GatewayIntentBits.GuildMembers | GatewayIntentBits.GuildPresences | GatewayIntentBits.MessageContent;

/**
 * The gateway: HELLO, heartbeats, IDENTIFY → READY → GUILD_CREATE, RESUME with replay, and every world
 * change as a sequenced dispatch filtered by the session's intents. Plain JSON text frames only.
 */
export class Gateway {
  readonly frames = new WaitableLog<GatewayFrame>();
  #server: WebSocketServer | null = null;
  #url = '';
  #connectionCount = 0;
  #current: Connection | null = null;
  readonly #sessions = new Map<string, Session>();
  #ackHeartbeats = true;
  /** While set, WebSocket upgrades are answered 503: the gateway is down for everyone. */
  #refusing = false;
  #refused = 0;

  constructor(private readonly options: GatewayOptions) {
    options.world.onDispatch((event, data) => this.#dispatchToAll(event, data));
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

  /** Connection attempts answered with an HTTP error by refuseConnections, since the emulator started. */
  get refusedConnections(): number {
    return this.#refused;
  }

  get connected(): boolean {
    return this.#current !== null;
  }

  /** INTERACTION_CREATE to every session (buffered for RESUME when the client is disconnected). */
  sendInteraction(payload: APIInteraction): void {
    this.#dispatchToAll(GatewayDispatchEvents.InteractionCreate, payload);
  }

  // ---- fault injection ---------------------------------------------------------------------------

  /** Closes the current connection. 4000-style codes keep the session for RESUME; 1000, 4004… end it. */
  close(code: number, reason = 'Closed by the emulator'): void {
    const connection = this.#requireConnection();
    if (SESSION_ENDING_CLOSE_CODES.has(code) && connection.session)
      this.#sessions.delete(connection.session.id);
    this.#detach(connection);
    connection.socket.close(code, reason);
  }

  /**
   * An outage: closes the current connection (4000-style codes keep the session, so the client resumes once
   * it is over) and answers every new connection attempt with 503 instead of a WebSocket, as Discord's edge
   * does while the gateway is down, until acceptConnections().
   */
  refuseConnections(): void {
    this.#refusing = true;
    if (this.#current) this.close(GatewayCloseCodes.UnknownError, 'Gateway unavailable');
  }

  /** Ends an outage begun by refuseConnections: the next attempt connects (and may RESUME). */
  acceptConnections(): void {
    this.#refusing = false;
  }

  /** Sends op 7 RECONNECT: the client should reconnect and resume. */
  requestReconnect(): void {
    this.#send(this.#requireConnection(), { op: GatewayOpcodes.Reconnect, d: null });
  }

  /** Sends op 9 INVALID_SESSION; a non-resumable one also forgets the session. */
  invalidateSession(resumable: boolean): void {
    const connection = this.#requireConnection();
    if (!resumable && connection.session) {
      this.#sessions.delete(connection.session.id);
      this.#detach(connection);
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

  /** Waits until a READY or RESUMED is sent after the moment of the call. */
  waitForNextSession(options?: WaitOptions): Promise<GatewayFrame> {
    return this.frames.waitForNext(
      (f) =>
        f.direction === 'sent' &&
        (f.t === GatewayDispatchEvents.Ready || f.t === GatewayDispatchEvents.Resumed),
      'READY or RESUMED',
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
    // Discord allows one connection per shard; a new one replaces the old (as after a reconnect).
    if (this.#current) this.#detach(this.#current);
    const connection: Connection = { number: ++this.#connectionCount, socket, session: null };
    this.#current = connection;
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
      this.#detach(connection);
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
    const identify = isRecord(d) ? d : {};
    if (connection.session) {
      connection.socket.close(GatewayCloseCodes.AlreadyAuthenticated, 'Already authenticated');
      return;
    }
    if (identify.token !== this.options.token) {
      connection.socket.close(GatewayCloseCodes.AuthenticationFailed, 'Authentication failed');
      return;
    }
    if (typeof identify.intents !== 'number') {
      connection.socket.close(GatewayCloseCodes.InvalidIntents, 'Invalid intent(s)');
      return;
    }
    if (identify.intents & PRIVILEGED_INTENTS & ~this.options.enabledPrivilegedIntents) {
      connection.socket.close(GatewayCloseCodes.DisallowedIntents, 'Disallowed intent(s)');
      return;
    }
    const session: Session = {
      id: randomBytes(16).toString('hex'),
      intents: identify.intents,
      seq: 0,
      sent: [],
      socket: null,
    };
    this.#sessions.set(session.id, session);
    this.#attach(connection, session);
    const { world } = this.options;
    const ready: GatewayReadyDispatchData = {
      v: 10,
      user: { ...world.apiUser(world.botUser.id), verified: true, mfa_enabled: false },
      guilds: world.botGuildIds().map((id) => ({ id, unavailable: true })),
      session_id: session.id,
      resume_gateway_url: this.#url,
      shard: [0, 1],
      application: { id: world.applicationId, flags: 0 as ApplicationFlags, flags_new: '0' },
    };
    this.#dispatch(session, GatewayDispatchEvents.Ready, ready);
    // Every guild announced as unavailable in READY must follow, or discord.js waits 15 s for it.
    for (const guildId of world.botGuildIds()) {
      this.#dispatch(session, GatewayDispatchEvents.GuildCreate, world.guildCreatePayload(guildId));
    }
  }

  #resume(connection: Connection, d: unknown): void {
    const resume = isRecord(d) ? d : {};
    const session = typeof resume.session_id === 'string' ? this.#sessions.get(resume.session_id) : undefined;
    if (!session || resume.token !== this.options.token) {
      this.#send(connection, { op: GatewayOpcodes.InvalidSession, d: false });
      return;
    }
    const lastSeen = typeof resume.seq === 'number' ? resume.seq : 0;
    if (session.sent.length > 0 && session.sent[0]!.s > lastSeen + 1) {
      // The events the client missed are no longer buffered: it must start over.
      this.#sessions.delete(session.id);
      this.#send(connection, { op: GatewayOpcodes.InvalidSession, d: false });
      return;
    }
    for (const payload of session.sent) {
      if (payload.s > lastSeen) this.#send(connection, payload);
    }
    this.#attach(connection, session);
    this.#dispatch(session, GatewayDispatchEvents.Resumed, {});
  }

  #requestGuildMembers(connection: Connection, d: GatewayRequestGuildMembersData): void {
    const session = connection.session;
    if (!session) {
      connection.socket.close(GatewayCloseCodes.NotAuthenticated, 'Not authenticated');
      return;
    }
    const { world } = this.options;
    const guild = world.guild(d.guild_id as string);
    const wanted = 'user_ids' in d && d.user_ids ? [d.user_ids].flat() : null;
    const query = 'query' in d ? (d.query ?? '').toLowerCase() : '';
    let members = [...guild.members.values()].filter((m) =>
      wanted ? wanted.includes(m.userId) : world.user(m.userId).username.toLowerCase().startsWith(query),
    );
    if ('limit' in d && d.limit) members = members.slice(0, d.limit);
    const chunk: GatewayGuildMembersChunkDispatchData = {
      guild_id: guild.id,
      members: members.map((m) => world.apiMember(guild.id, m.userId)),
      chunk_index: 0,
      chunk_count: 1,
      ...(wanted ? { not_found: wanted.filter((id) => !guild.members.has(id)) } : {}),
      ...(d.nonce !== undefined ? { nonce: d.nonce } : {}),
    };
    this.#dispatch(session, GatewayDispatchEvents.GuildMembersChunk, chunk);
  }

  // ---- sending -----------------------------------------------------------------------------------

  #dispatchToAll(event: GatewayDispatchEvents, data: unknown): void {
    for (const session of this.#sessions.values()) {
      if (isAllowedByIntents(event, session.intents)) this.#dispatch(session, event, data);
    }
  }

  #dispatch(session: Session, event: GatewayDispatchEvents, data: unknown): void {
    const d = needsContentStripping(event, session.intents)
      ? withoutPrivilegedContent(data as APIMessage, this.options.world.botUser.id)
      : data;
    const payload: DispatchPayload = { op: GatewayOpcodes.Dispatch, t: event, s: ++session.seq, d };
    session.sent.push(payload);
    if (session.sent.length > RESUME_BUFFER_SIZE) session.sent.shift();
    const connection = this.#current;
    if (session.socket && connection?.socket === session.socket) this.#send(connection, payload);
  }

  #send(connection: Connection, payload: { op: number; d?: unknown; t?: string; s?: number }): void {
    if (connection.socket.readyState !== connection.socket.OPEN) return;
    connection.socket.send(JSON.stringify({ t: null, s: null, d: null, ...payload }));
    this.frames.push({
      direction: 'sent',
      connection: connection.number,
      op: payload.op,
      t: payload.t ?? null,
      s: payload.s ?? null,
      d: payload.d,
      at: Date.now(),
    });
  }

  #attach(connection: Connection, session: Session): void {
    connection.session = session;
    session.socket = connection.socket;
  }

  #detach(connection: Connection): void {
    if (connection.session?.socket === connection.socket) connection.session.socket = null;
    if (this.#current === connection) this.#current = null;
  }

  #requireConnection(): Connection {
    if (!this.#current) throw new Error('No client is connected to the emulated gateway');
    return this.#current;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
