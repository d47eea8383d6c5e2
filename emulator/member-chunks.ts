// REQUEST_GUILD_MEMBERS (op 8) answered as Discord does: GUILD_MEMBERS_CHUNK dispatches of at most 1,000
// members each, numbered chunk_index of chunk_count, with the request's nonce on every chunk.
import type {
  APIGuildMember,
  GatewayGuildMembersChunkDispatchData,
  GatewayRequestGuildMembersData,
} from 'discord-api-types/v10';
import type { World } from './world.js';

/** Discord's largest GUILD_MEMBERS_CHUNK. */
export const MEMBERS_PER_CHUNK = 1_000;

/**
 * The chunks answering one request: by `user_ids` (with `not_found`), or by username prefix `query` (''
 * = everyone) up to `limit` (0 = no limit). Always at least one chunk, so the client's wait ends.
 */
export function memberChunks(
  world: World,
  d: GatewayRequestGuildMembersData,
): GatewayGuildMembersChunkDispatchData[] {
  const guild = world.guild(String(d.guild_id));
  const wanted = 'user_ids' in d && d.user_ids ? [d.user_ids].flat().map(String) : null;
  const query = 'query' in d ? (d.query ?? '').toLowerCase() : '';
  const limit = !wanted && 'limit' in d && d.limit ? d.limit : Number.POSITIVE_INFINITY;
  const members: APIGuildMember[] = [];
  if (wanted) {
    for (const id of wanted) if (guild.members.has(id)) members.push(world.apiMember(guild.id, id));
  } else {
    for (const member of guild.members.values()) {
      if (members.length >= limit) break;
      if (world.user(member.userId).username.toLowerCase().startsWith(query))
        members.push(world.apiMember(guild.id, member.userId));
    }
  }
  const chunkCount = Math.max(1, Math.ceil(members.length / MEMBERS_PER_CHUNK));
  const chunks: GatewayGuildMembersChunkDispatchData[] = [];
  for (let index = 0; index < chunkCount; index++) {
    chunks.push({
      guild_id: guild.id,
      members: members.slice(index * MEMBERS_PER_CHUNK, (index + 1) * MEMBERS_PER_CHUNK),
      chunk_index: index,
      chunk_count: chunkCount,
      // Discord reports unknown ids once, with the first chunk.
      ...(wanted && index === 0 ? { not_found: wanted.filter((id) => !guild.members.has(id)) } : {}),
      ...(d.nonce !== undefined ? { nonce: d.nonce } : {}),
    });
  }
  return chunks;
}
