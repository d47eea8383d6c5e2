import { PermissionFlagsBits } from 'discord-api-types/v10';

export type PermissionName = keyof typeof PermissionFlagsBits;
/** Permissions as the world builder accepts them: a bitfield or a list of flag names. */
export type PermissionsInput = bigint | readonly PermissionName[];

export const ALL_PERMISSIONS: bigint = Object.values(PermissionFlagsBits).reduce((all, bit) => all | bit, 0n);

/** What @everyone gets in a freshly created Discord server (the common text/voice permissions). */
export const DEFAULT_EVERYONE_PERMISSIONS = resolvePermissions([
  'ViewChannel',
  'CreateInstantInvite',
  'ChangeNickname',
  'SendMessages',
  'SendMessagesInThreads',
  'CreatePublicThreads',
  'CreatePrivateThreads',
  'EmbedLinks',
  'AttachFiles',
  'AddReactions',
  'UseExternalEmojis',
  'UseExternalStickers',
  'MentionEveryone',
  'ReadMessageHistory',
  'UseApplicationCommands',
  'Connect',
  'Speak',
  'Stream',
  'UseVAD',
]);

/** The bot's managed role when a guild does not say otherwise: what Metronome's invite link asks for. */
export const DEFAULT_BOT_PERMISSIONS = resolvePermissions([
  'ViewChannel',
  'SendMessages',
  // Reminders post into threads and forum posts.
  'SendMessagesInThreads',
  'EmbedLinks',
  'ReadMessageHistory',
  'ManageChannels',
  'MentionEveryone',
]);

export function resolvePermissions(input: PermissionsInput): bigint {
  if (typeof input === 'bigint') return input;
  return input.reduce((bits, name) => bits | PermissionFlagsBits[name], 0n);
}

export function has(permissions: bigint, bit: bigint): boolean {
  return (permissions & bit) === bit;
}

export interface OverwriteBits {
  id: string;
  /** 0 = role, 1 = member (Discord's OverwriteType). */
  type: 0 | 1;
  allow: bigint;
  deny: bigint;
}

/** Guild-level permissions: @everyone, then every role of the member; owner and Administrator get all. */
export function computeBasePermissions(args: {
  isOwner: boolean;
  everyonePermissions: bigint;
  rolePermissions: readonly bigint[];
}): bigint {
  if (args.isOwner) return ALL_PERMISSIONS;
  const base = args.rolePermissions.reduce((bits, role) => bits | role, args.everyonePermissions);
  return has(base, PermissionFlagsBits.Administrator) ? ALL_PERMISSIONS : base;
}

/**
 * Applies channel overwrites in Discord's documented order: @everyone, then the union of the member's
 * roles (deny before allow), then the member's own overwrite.
 */
export function applyOverwrites(args: {
  base: bigint;
  guildId: string;
  memberId: string;
  memberRoleIds: readonly string[];
  overwrites: readonly OverwriteBits[];
}): bigint {
  const { base, guildId, memberId, memberRoleIds, overwrites } = args;
  if (has(base, PermissionFlagsBits.Administrator)) return ALL_PERMISSIONS;
  let permissions = base;
  const everyone = overwrites.find((o) => o.type === 0 && o.id === guildId);
  if (everyone) permissions = (permissions & ~everyone.deny) | everyone.allow;
  let roleAllow = 0n;
  let roleDeny = 0n;
  for (const overwrite of overwrites) {
    if (overwrite.type === 0 && memberRoleIds.includes(overwrite.id)) {
      roleAllow |= overwrite.allow;
      roleDeny |= overwrite.deny;
    }
  }
  permissions = (permissions & ~roleDeny) | roleAllow;
  const own = overwrites.find((o) => o.type === 1 && o.id === memberId);
  if (own) permissions = (permissions & ~own.deny) | own.allow;
  // Without View Channel nothing else in the channel applies.
  return has(permissions, PermissionFlagsBits.ViewChannel) ? permissions : 0n;
}
