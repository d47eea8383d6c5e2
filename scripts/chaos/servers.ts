// The chaos run's Discord: a few servers, each with an admin who runs /task, members who chat (what the
// leaderboards count), and a few text channels for the tasks to post in.
import type { Emulator } from '../../emulator/index.js';

export interface ChaosServer {
  id: string;
  name: string;
  admin: string;
  members: string[];
  /** Text channels tasks post in; the first is where commands are typed. */
  channels: string[];
}

export function createServers(emulator: Emulator, count: number): ChaosServer[] {
  return Array.from({ length: count }, (_, index) => {
    const name = `s${index + 1}`;
    const handle = emulator.world.createGuild({
      name: `Chaos ${name}`,
      roles: [{ name: 'Admins', permissions: ['ManageGuild'] }],
      channels: [{ name: 'general' }, { name: 'posts' }, { name: 'boards' }],
      members: [
        { user: { username: `${name}-admin` }, roles: ['Admins'] },
        { user: { username: `${name}-ann` } },
        { user: { username: `${name}-bo` } },
        { user: { username: `${name}-cy` } },
      ],
    });
    return {
      id: handle.id,
      name,
      admin: handle.members[`${name}-admin`]!,
      members: [`${name}-ann`, `${name}-bo`, `${name}-cy`].map((user) => handle.members[user]!),
      channels: [handle.channels.general!, handle.channels.posts!, handle.channels.boards!],
    };
  });
}
