import type { APIAllowedMentions } from 'discord-api-types/v10';
import { AllowedMentionsTypes } from 'discord-api-types/v10';
import { invalidFormBody } from './errors.js';

/** Who a message actually notifies once Discord has applied `allowed_mentions`. */
export interface Pings {
  users: string[];
  roles: string[];
  everyone: boolean;
}

export interface MentionsInContent {
  users: string[];
  roles: string[];
  everyone: boolean;
}

const unique = (ids: Iterable<string>): string[] => [...new Set(ids)];

export function mentionsInContent(content: string): MentionsInContent {
  return {
    users: unique([...content.matchAll(/<@!?(\d{17,20})>/g)].map((m) => m[1]!)),
    roles: unique([...content.matchAll(/<@&(\d{17,20})>/g)].map((m) => m[1]!)),
    everyone: /@(everyone|here)\b/.test(content),
  };
}

/**
 * Applies Discord's allowed_mentions rules. Without `allowed_mentions` everything parsed from the content
 * is allowed; with it, only the listed `parse` types and explicit ids are. A role pings only when it is
 * mentionable or the author may mention everyone; @everyone/@here needs that permission too.
 */
export function resolvePings(args: {
  content: string;
  allowedMentions: APIAllowedMentions | undefined;
  mentionableRoleIds: ReadonlySet<string>;
  canMentionEveryone: boolean;
  repliedUserId: string | null;
}): Pings {
  const { content, allowedMentions, mentionableRoleIds, canMentionEveryone, repliedUserId } = args;
  const found = mentionsInContent(content);
  // Given at all, allowed_mentions allows only what it lists; absent, everything parses.
  const parse = allowedMentions
    ? (allowedMentions.parse ?? [])
    : [AllowedMentionsTypes.User, AllowedMentionsTypes.Role, AllowedMentionsTypes.Everyone];
  if (allowedMentions?.users && allowedMentions.parse?.includes(AllowedMentionsTypes.User)) {
    throw invalidFormBody(
      'allowed_mentions',
      'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE',
      'parse:["users"] and users: [ids] are mutually exclusive.',
    );
  }
  if (allowedMentions?.roles && allowedMentions.parse?.includes(AllowedMentionsTypes.Role)) {
    throw invalidFormBody(
      'allowed_mentions',
      'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE',
      'parse:["roles"] and roles: [ids] are mutually exclusive.',
    );
  }
  const allowedUsers = new Set(allowedMentions?.users ?? []);
  const allowedRoles = new Set(allowedMentions?.roles ?? []);
  const users = found.users.filter((id) => parse.includes(AllowedMentionsTypes.User) || allowedUsers.has(id));
  const repliedUserPinged =
    repliedUserId !== null && (allowedMentions === undefined || allowedMentions.replied_user === true);
  if (repliedUserPinged && !users.includes(repliedUserId)) users.push(repliedUserId);
  const roles = found.roles.filter(
    (id) =>
      (parse.includes(AllowedMentionsTypes.Role) || allowedRoles.has(id)) &&
      (mentionableRoleIds.has(id) || canMentionEveryone),
  );
  const everyone = found.everyone && parse.includes(AllowedMentionsTypes.Everyone) && canMentionEveryone;
  return { users, roles, everyone };
}
