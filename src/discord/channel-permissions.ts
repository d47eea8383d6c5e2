// Before creating a task, check the bot can do its job in the chosen channel, so the admin hears about a
// missing permission now rather than from a failed run later.

import type { Guild } from 'discord.js';
import { PermissionFlagsBits, type PermissionResolvable } from 'discord.js';

interface Needed {
  flag: bigint;
  label: string;
}

const VIEW: Needed = { flag: PermissionFlagsBits.ViewChannel, label: 'View Channel' };
const SEND: Needed = { flag: PermissionFlagsBits.SendMessages, label: 'Send Messages' };
const MANAGE: Needed = { flag: PermissionFlagsBits.ManageChannels, label: 'Manage Channels' };

/**
 * What a task of this kind needs in its channel. Handlers cannot declare this yet, so the one exception is
 * known here: a counter that renames its channel (target "name") needs Manage Channels instead of posting.
 */
export function neededChannelPermissions(kind: string, options: Record<string, unknown>): Needed[] {
  if (kind === 'counter' && options.target === 'name') return [VIEW, MANAGE];
  return [VIEW, SEND];
}

/** One sentence naming the first missing permission, or undefined when the bot has them all. */
export async function missingChannelPermission(
  guild: Guild,
  channelId: string,
  needed: readonly Needed[],
): Promise<string | undefined> {
  const channel = guild.channels.cache.get(channelId);
  if (!channel) return `I can't see <#${channelId}>; pick a channel I can view.`;
  const me = guild.members.me ?? (await guild.members.fetchMe());
  const permissions = channel.permissionsFor(me);
  const missing = needed.filter((need) => !permissions.has(need.flag as PermissionResolvable));
  if (missing.length === 0) return undefined;
  const names = missing.map((need) => `**${need.label}**`).join(' and ');
  return `I can't work in <#${channelId}>: I need the ${names} permission${missing.length > 1 ? 's' : ''} there.`;
}
