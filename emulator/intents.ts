import { type APIMessage, GatewayDispatchEvents, GatewayIntentBits } from 'discord-api-types/v10';

const GUILDS_EVENTS: ReadonlySet<string> = new Set([
  GatewayDispatchEvents.GuildCreate,
  GatewayDispatchEvents.GuildUpdate,
  GatewayDispatchEvents.GuildDelete,
  GatewayDispatchEvents.GuildRoleCreate,
  GatewayDispatchEvents.GuildRoleUpdate,
  GatewayDispatchEvents.GuildRoleDelete,
  GatewayDispatchEvents.ChannelCreate,
  GatewayDispatchEvents.ChannelUpdate,
  GatewayDispatchEvents.ChannelDelete,
  GatewayDispatchEvents.ThreadCreate,
  GatewayDispatchEvents.ThreadUpdate,
  GatewayDispatchEvents.ThreadDelete,
  GatewayDispatchEvents.ThreadListSync,
  GatewayDispatchEvents.ThreadMemberUpdate,
  // Discord sends the bot's own joins under Guilds; other members' only with Server Members as well.
  GatewayDispatchEvents.ThreadMembersUpdate,
]);

const MEMBER_EVENTS: ReadonlySet<string> = new Set([
  GatewayDispatchEvents.GuildMemberAdd,
  GatewayDispatchEvents.GuildMemberUpdate,
  GatewayDispatchEvents.GuildMemberRemove,
]);

const MESSAGE_EVENTS: ReadonlySet<string> = new Set([
  GatewayDispatchEvents.MessageCreate,
  GatewayDispatchEvents.MessageUpdate,
  GatewayDispatchEvents.MessageDelete,
]);

/** The intent a guild event needs, or null when every session receives it (READY, INTERACTION_CREATE…). */
export function intentFor(event: GatewayDispatchEvents): number | null {
  if (GUILDS_EVENTS.has(event)) return GatewayIntentBits.Guilds;
  if (MEMBER_EVENTS.has(event)) return GatewayIntentBits.GuildMembers;
  if (MESSAGE_EVENTS.has(event)) return GatewayIntentBits.GuildMessages;
  return null;
}

export function isAllowedByIntents(event: GatewayDispatchEvents, intents: number): boolean {
  const needed = intentFor(event);
  return needed === null || (intents & needed) === needed;
}

/**
 * Without the privileged Message Content intent Discord blanks content, embeds, attachments and components,
 * except in the bot's own messages and messages that mention it.
 */
export function withoutPrivilegedContent(message: APIMessage, botId: string): APIMessage {
  if (message.author.id === botId || message.mentions.some((user) => user.id === botId)) return message;
  return { ...message, content: '', embeds: [], attachments: [], components: [] };
}

export function needsContentStripping(event: GatewayDispatchEvents, intents: number): boolean {
  return (
    (event === GatewayDispatchEvents.MessageCreate || event === GatewayDispatchEvents.MessageUpdate) &&
    (intents & GatewayIntentBits.MessageContent) === 0
  );
}
