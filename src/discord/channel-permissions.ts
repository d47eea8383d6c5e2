// Before creating a task, check the bot can do its job in the chosen channel, so the admin hears about a
// missing permission now rather than from a failed run later. Each handler declares what it needs.
import { type Guild, PermissionFlagsBits, type PermissionsString } from 'discord.js';
import type { Handler } from '../handlers/define.js';

const DEFAULT_NEEDS: readonly PermissionsString[] = ['ViewChannel', 'SendMessages'];

/** What a task of this handler needs in its channel: View Channel always, then what the handler declares. */
export function neededChannelPermissions<Options>(
  handler: Handler<Options>,
  options: Options,
  guild: Guild,
): PermissionsString[] {
  const declared = handler.channelPermissions?.(options, guild) ?? DEFAULT_NEEDS;
  return [...new Set<PermissionsString>(['ViewChannel', ...declared])];
}

/** `ManageChannels` → `Manage Channels`, as Discord's settings name it. */
function permissionLabel(permission: PermissionsString): string {
  return permission.replace(/(?<=[a-z])(?=[A-Z])/g, ' ');
}

/** One sentence naming every missing permission, or undefined when the bot has them all. */
export async function missingChannelPermission(
  guild: Guild,
  channelId: string,
  needed: readonly PermissionsString[],
): Promise<string | undefined> {
  const channel = guild.channels.cache.get(channelId);
  if (!channel) return `I can't see <#${channelId}>; pick a channel I can view.`;
  const me = guild.members.me ?? (await guild.members.fetchMe());
  const permissions = channel.permissionsFor(me);
  const missing = needed.filter((need) => !permissions.has(PermissionFlagsBits[need]));
  if (missing.length === 0) return undefined;
  const names = missing.map((need) => `**${permissionLabel(need)}**`).join(' and ');
  return `I can't work in <#${channelId}>: I need the ${names} permission${missing.length > 1 ? 's' : ''} there.`;
}
