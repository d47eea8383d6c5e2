import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIApplicationCommandOptionChoice, APIMessage } from 'discord-api-types/v10';
import { AttachmentStore, type AttachmentUpload } from './attachments.js';
import { CommandRegistry } from './commands.js';
import { GATEWAY_PATH, Gateway, PRIVILEGED_INTENTS } from './gateway.js';
import {
  type AutocompleteInvocation,
  type ComponentInvocation,
  type InteractionCallback,
  type InteractionHandle,
  InteractionManager,
  type SlashInvocation,
} from './interactions.js';
import type { WaitOptions } from './log.js';
import type { RequestMatcher } from './rest/faults.js';
import { SlidingWindow } from './rest/rate-limits.js';
import { Router } from './rest/router.js';
import { buildRoutes } from './rest/routes.js';
import { RestServer } from './rest/server.js';
import type { RecordedRequest } from './rest/types.js';
import {
  DEFAULT_MAX_GUILDS_PER_SHARD,
  recommendedShardCount,
  SessionStartLimit,
  type SessionStartLimitOptions,
} from './shards.js';
import { World } from './world.js';

export type { AttachmentUpload } from './attachments.js';
export { MAX_ATTACHMENT_BYTES } from './attachments.js';
export type { GatewayFrame } from './gateway.js';
export type {
  AutocompleteInvocation,
  ComponentInvocation,
  InteractionCallback,
  InteractionHandle,
  InteractionRecord,
  OptionValue,
  SlashInvocation,
} from './interactions.js';
export { InvocationError } from './interactions.js';
export type { WaitOptions } from './log.js';
export type { Pings } from './mentions.js';
export type { PermissionName, PermissionsInput } from './permissions.js';
export type { FaultAction, RequestMatcher } from './rest/faults.js';
export type { RecordedRequest } from './rest/types.js';
export type { SessionStartLimitOptions, ShardTuple } from './shards.js';
export { shardOfGuild } from './shards.js';
export type {
  ChannelSpec,
  CreatedGuild,
  GuildHandle,
  GuildSpec,
  MemberSpec,
  MessageRecord,
  OverwriteSpec,
  PostMessageSpec,
  RoleSpec,
  ThreadEdit,
  ThreadSpec,
  ThreadState,
  TranscriptEntry,
  UserSpec,
  World,
} from './world.js';

export interface EmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** The bot token the emulator accepts (`Bot <token>` on REST, IDENTIFY/RESUME on the gateway). */
  token?: string;
  botUsername?: string;
  /** Record unknown routes and protocol misuse, and fail `close()` if any happened. Default true. */
  strict?: boolean;
  /** How long the bot has to acknowledge an interaction. Default 3000 ms, as on Discord. */
  interactionDeadlineMs?: number;
  /** HELLO's heartbeat_interval. Default 41250 ms, as on Discord. */
  heartbeatIntervalMs?: number;
  /**
   * Privileged intents (GuildMembers, GuildPresences, MessageContent bits) enabled for the bot, as in the
   * Developer Portal. IDENTIFY asking for one that is not enabled is closed with 4014. Default: all.
   */
  enabledPrivilegedIntents?: number;
  /** Channel name/topic changes allowed per window. Default 2 per 10 minutes, as on Discord. */
  renameLimit?: { count: number; windowMs: number };
  /** Default 50, as on Discord. */
  globalRequestsPerSecond?: number;
  /** How long a nonce with enforce_nonce deduplicates. Default 5 minutes. */
  nonceWindowMs?: number;
  /**
   * IDENTIFY is closed with 4011 (Sharding required) when its shard count would leave one shard with more
   * of the bot's guilds than this. Default 2,500, as on Discord.
   */
  maxGuildsPerShard?: number;
  /**
   * GET /gateway/bot's `shards`. Default: what Discord recommends for the bot's guilds at that moment, one
   * shard per 1,000 guilds, at least 1.
   */
  recommendedShards?: number;
  /**
   * GET /gateway/bot's `session_start_limit` (total 1,000 a day, max_concurrency 1 by default, as for an
   * ordinary bot); `remaining` goes down with every IDENTIFY. With max_concurrency 1 discord.js waits 5 s
   * between its shards' IDENTIFYs: tests with several shards pass `{ maxConcurrency: <shard count> }`.
   */
  sessionStartLimit?: SessionStartLimitOptions;
  /**
   * How many gateway frames `gateway.frames` keeps (at least this many, at most twice). Default: all. A
   * test or bench with thousands of guilds sets it, so the emulator does not hold every GUILD_CREATE.
   */
  gatewayFrameHistory?: number;
}

export const DEFAULT_TOKEN = 'MTAwMDAwMDAwMDAwMDAwMDAw.emulator.metronome-test-token';

/** A local Discord: REST v10 under `apiBase`, a JSON gateway, and a world that tests shape and observe. */
export class Emulator {
  readonly world: World;
  readonly gateway: Gateway;
  readonly rest: RestServer;
  readonly commands: CommandRegistry;
  readonly interactions: InteractionManager;
  /** Files uploaded by tests and sent by the bot, served at their urls (Discord's CDN). */
  readonly attachments: AttachmentStore;
  readonly token: string;
  readonly strict: boolean;
  readonly #unexpected: string[] = [];
  readonly #server: Server;
  #apiBase = '';

  private constructor(options: EmulatorOptions) {
    this.token = options.token ?? DEFAULT_TOKEN;
    this.strict = options.strict ?? true;
    this.world = new World({ username: options.botUsername ?? 'Metronome' });
    this.commands = new CommandRegistry(this.world.applicationId, this.world.snowflakes);
    const reportUnexpected = (description: string) => this.#unexpected.push(description);
    this.attachments = new AttachmentStore(this.world.snowflakes, () => new URL(this.#apiBase).origin);
    this.gateway = new Gateway({
      world: this.world,
      token: this.token,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41_250,
      enabledPrivilegedIntents: options.enabledPrivilegedIntents ?? PRIVILEGED_INTENTS,
      maxGuildsPerShard: options.maxGuildsPerShard ?? DEFAULT_MAX_GUILDS_PER_SHARD,
      sessionStartLimit: new SessionStartLimit(options.sessionStartLimit),
      frameHistory: options.gatewayFrameHistory ?? Number.POSITIVE_INFINITY,
      reportUnexpected,
    });
    this.interactions = new InteractionManager(
      this.world,
      this.commands,
      (payload) => this.gateway.sendInteraction(payload),
      options.interactionDeadlineMs ?? 3_000,
      this.attachments,
    );
    const rename = options.renameLimit ?? { count: 2, windowMs: 10 * 60_000 };
    const router = new Router();
    router.add(
      ...buildRoutes({
        world: this.world,
        commands: this.commands,
        interactions: this.interactions,
        gatewayBot: () => ({
          url: this.gateway.url,
          shards: options.recommendedShards ?? recommendedShardCount(this.world.botGuildIds().length),
          session_start_limit: this.gateway.sessionStartLimit.info(),
        }),
        channelRenames: new SlidingWindow(rename.count, rename.windowMs),
        channelEdits: new SlidingWindow(10, 10_000),
        nonceWindowMs: options.nonceWindowMs ?? 5 * 60_000,
      }),
    );
    this.rest = new RestServer({
      router,
      attachments: this.attachments,
      token: this.token,
      globalRequestsPerSecond: options.globalRequestsPerSecond ?? 50,
      reportUnexpected,
    });
    this.#server = createServer((req, res) => {
      void this.rest.handle(req, res);
    });
  }

  static async start(options: EmulatorOptions = {}): Promise<Emulator> {
    const emulator = new Emulator(options);
    await new Promise<void>((resolve) => emulator.#server.listen(options.port ?? 0, '127.0.0.1', resolve));
    const { port } = emulator.#server.address() as AddressInfo;
    emulator.#apiBase = `http://127.0.0.1:${port}/api`;
    emulator.gateway.attach(emulator.#server, `ws://127.0.0.1:${port}${GATEWAY_PATH}`);
    return emulator;
  }

  /** What to pass as discord.js `rest.api` (it appends /v10). */
  get apiBase(): string {
    return this.#apiBase;
  }

  // ---- interactions ------------------------------------------------------------------------------

  /** Validates against the registered commands (throws InvocationError) and sends INTERACTION_CREATE. */
  invokeSlash(invocation: SlashInvocation): InteractionHandle {
    return this.interactions.invokeSlash(invocation);
  }

  /**
   * A user clicks a button or picks string-select values on a message the bot sent. Validates that the
   * message exists, is the bot's, and has an enabled component with that custom_id (select values among its
   * options) — throws InvocationError otherwise — and sends INTERACTION_CREATE type 3 (MESSAGE_COMPONENT).
   */
  invokeComponent(invocation: ComponentInvocation): InteractionHandle {
    return this.interactions.invokeComponent(invocation);
  }

  /** Sends an autocomplete interaction; resolves with the choices the bot responded with. */
  invokeAutocomplete(
    invocation: AutocompleteInvocation,
    options?: WaitOptions,
  ): Promise<APIApplicationCommandOptionChoice[]> {
    return this.interactions.invokeAutocomplete(invocation, options);
  }

  /**
   * A file a user picks for an attachment option: stored on the emulator's CDN. Pass the returned id as the
   * option's value; the interaction then carries it in `resolved.attachments`, with a url the bot can fetch.
   */
  uploadAttachment(upload: AttachmentUpload): string {
    return this.attachments.upload(upload).id;
  }

  /** The bytes of a file the emulator serves (one the bot sent, say), by its `url` as the message gives it. */
  downloadAttachment(url: string): Buffer {
    return this.attachments.byUrl(url).data;
  }

  waitForInteractionResponse(interactionId: string, options?: WaitOptions): Promise<InteractionCallback> {
    return this.interactions.waitForCallback(interactionId, options);
  }

  // ---- observation -------------------------------------------------------------------------------

  waitForMessage(
    channelId: string,
    predicate?: (message: APIMessage) => boolean,
    options?: WaitOptions,
  ): Promise<APIMessage> {
    return this.world.waitForMessage(channelId, predicate, options);
  }

  waitForRequest(
    matcher: RequestMatcher & { status?: number },
    options?: WaitOptions,
  ): Promise<RecordedRequest> {
    return this.rest.waitForRequest(matcher, options);
  }

  get requests(): readonly RecordedRequest[] {
    return this.rest.requests.entries;
  }

  /** Unknown routes and protocol misuse seen so far (strict mode fails on them). */
  get unexpected(): readonly string[] {
    return this.#unexpected;
  }

  assertNoUnexpectedRequests(): void {
    if (this.#unexpected.length > 0) {
      throw new Error(`The emulator saw unexpected requests:\n  ${this.#unexpected.join('\n  ')}`);
    }
  }

  /** Forget recorded unexpected requests (after a test has asserted them). */
  clearUnexpected(): void {
    this.#unexpected.length = 0;
  }

  /** Stops both servers; in strict mode, then throws if anything unexpected was seen. */
  async close(): Promise<void> {
    this.rest.releaseHanging();
    await this.gateway.shutdown();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    if (this.strict) this.assertNoUnexpectedRequests();
  }
}

export const startEmulator = (options?: EmulatorOptions): Promise<Emulator> => Emulator.start(options);
