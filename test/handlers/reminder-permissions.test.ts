import { PermissionFlagsBits } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBot, type TestBot } from '../commands/helpers.js';

let t: TestBot | undefined;

afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** Takes Mention Everyone from the bot in #general, the way an admin's channel override would. */
function denyMentionEveryone(bot: TestBot): void {
  bot.emulator.world.updateChannel(bot.a.channels.general!, {
    overwrites: [
      {
        id: bot.emulator.world.botUser.id,
        type: 1,
        allow: 0n,
        deny: PermissionFlagsBits.MentionEveryone,
      },
    ],
  });
}

describe('/task create reminder: pings that Discord would drop', () => {
  it('asks for Mention Everyone when the role is @everyone or not mentionable, not for a mentionable role', async () => {
    t = await startTestBot();
    const bot = t;
    denyMentionEveryone(bot);
    const general = bot.a.channels.general!;
    const guild = () => bot.bot.client.guilds.cache.get(bot.a.id);
    // The client's cache follows the override before the create checks it.
    await expect
      .poll(() =>
        guild()
          ?.channels.cache.get(general)
          ?.permissionsFor(guild()!.members.me!)
          .has(PermissionFlagsBits.MentionEveryone),
      )
      .toBe(false);
    const create = (name: string, role: string) =>
      bot.run('create reminder', { name, channel: general, every: '1h', message: 'hi', role });
    const refusal = /I need the \*\*Mention Everyone\*\* permission there\.$/;

    expect(await create('everyone', bot.a.everyoneRoleId)).toMatch(refusal);
    // "Admins" is not mentionable: only Mention Everyone makes its ping reach anyone.
    expect(await create('admins', bot.a.roles.Admins!)).toMatch(refusal);
    // "Crew" is mentionable: no extra permission needed.
    expect(await create('crew', bot.a.roles.Crew!)).toMatch(/^Created \*\*crew\*\*/);
    // Nor without a role.
    expect(
      await bot.run('create reminder', { name: 'plain', channel: general, every: '1h', message: 'hi' }),
    ).toMatch(/^Created \*\*plain\*\*/);
    // Where the bot has it (every channel but #general here), @everyone is fine.
    expect(
      await bot.run('create reminder', {
        name: 'all-hands',
        channel: bot.a.channels.announcements!,
        every: '1h',
        message: 'hi',
        role: bot.a.everyoneRoleId,
      }),
    ).toMatch(/^Created \*\*all-hands\*\*/);
  });
});
