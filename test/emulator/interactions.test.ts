import {
  type ChatInputCommandInteraction,
  DiscordAPIError,
  InteractionResponseType,
  MessageFlags,
  Routes,
  SlashCommandBuilder,
} from 'discord.js';
import { describe, expect, it, vi } from 'vitest';
import { InvocationError } from '../../emulator/index.js';
import { type Harness, useHarness } from './harness.js';

const task = new SlashCommandBuilder()
  .setName('task')
  .setDescription('Manage tasks')
  .setDefaultMemberPermissions(0x20n) // Manage Server
  .addSubcommand((s) =>
    s
      .setName('info')
      .setDescription('Show a task')
      .addStringOption((o) =>
        o.setName('name').setDescription('Task name').setRequired(true).setAutocomplete(true),
      ),
  )
  .addSubcommand((s) =>
    s
      .setName('create')
      .setDescription('Create a task')
      .addStringOption((o) => o.setName('name').setDescription('Task name').setRequired(true))
      .addChannelOption((o) => o.setName('channel').setDescription('Where').setRequired(true))
      .addIntegerOption((o) => o.setName('count').setDescription('How many times').setMinValue(1)),
  );

/** Runs `handler` for every chat input interaction the client receives. */
function onCommand(
  harness: Harness,
  handler: (interaction: ChatInputCommandInteraction) => Promise<void>,
): void {
  harness.client.on('interactionCreate', (interaction) => {
    if (interaction.isChatInputCommand()) void handler(interaction).catch(() => {});
  });
}

describe('application commands and interactions', () => {
  const start = useHarness();

  it('registers global and guild commands and reads them back', async () => {
    const harness = await start();
    const { client, guild, emulator } = harness;
    const global = await client.application!.commands.set([task.toJSON()]);
    expect([...global.values()].map((c) => c.name)).toEqual(['task']);
    const again = await client.application!.commands.set([task.toJSON()]);
    expect(again.first()?.id).toBe(global.first()?.id); // same name keeps its id
    const guildCommands = await client.guilds.cache
      .get(guild.id)!
      .commands.set([{ name: 'ping', description: 'Pong' }]);
    expect(guildCommands.first()?.guildId).toBe(guild.id);
    const fetched = await client.application!.commands.fetch();
    expect(fetched.first()?.options.map((o) => o.name)).toEqual(['info', 'create']);
    expect(emulator.commands.list(guild.id).map((c) => c.name)).toEqual(['ping']);
    await expect(
      client.application!.commands.create({ name: 'Bad Name', description: 'x' }),
    ).rejects.toMatchObject({
      code: 50035,
    });
  });

  it('delivers a slash command and records an ephemeral reply', async () => {
    const harness = await start();
    const { client, guild, emulator } = harness;
    await client.application!.commands.set([task.toJSON()]);
    let seen: ChatInputCommandInteraction | undefined;
    onCommand(harness, async (interaction) => {
      seen = interaction;
      await interaction.reply({
        content: `created ${interaction.options.getString('name')}`,
        flags: MessageFlags.Ephemeral,
      });
    });
    const handle = emulator.invokeSlash({
      user: guild.members.alice!,
      guild: guild.id,
      channel: guild.channels.general!,
      command: 'task',
      subcommand: 'create',
      options: { name: 'standup', channel: guild.channels.announcements!, count: 3 },
    });
    const reply = await handle.waitForReply();
    expect(reply.content).toBe('created standup');
    expect(reply.flags! & MessageFlags.Ephemeral).toBe(MessageFlags.Ephemeral);
    expect((await handle.waitForAck()).type).toBe(InteractionResponseType.ChannelMessageWithSource);
    expect(seen?.memberPermissions?.has('ManageGuild')).toBe(true);
    expect(seen?.appPermissions.has('SendMessages')).toBe(true);
    expect(seen?.options.getChannel('channel')?.id).toBe(guild.channels.announcements);
    expect(seen?.options.getInteger('count')).toBe(3);
    // Ephemeral replies never appear in the channel.
    expect(emulator.world.transcript(guild.channels.general!)).toEqual([]);
  });

  it('defers, then edits the reply', async () => {
    const harness = await start();
    const { client, guild, emulator } = harness;
    await client.application!.commands.set([task.toJSON()]);
    onCommand(harness, async (interaction) => {
      await interaction.deferReply();
      await interaction.editReply('done after thinking');
      await interaction.followUp({ content: 'and one more thing', flags: MessageFlags.Ephemeral });
    });
    const handle = emulator.invokeSlash({
      user: guild.members.alice!,
      guild: guild.id,
      channel: guild.channels.general!,
      command: 'task',
      subcommand: 'info',
      options: { name: 'standup' },
    });
    expect((await handle.waitForAck()).type).toBe(InteractionResponseType.DeferredChannelMessageWithSource);
    expect((await handle.waitForReply()).content).toBe('done after thinking');
    expect((await handle.waitForFollowUp()).content).toBe('and one more thing');
    // The non-ephemeral deferred reply is a channel message: created loading, then edited.
    expect(
      emulator.world.transcript(guild.channels.general!).map((e) => [e.kind, e.message.content]),
    ).toEqual([
      ['create', ''],
      ['update', 'done after thinking'],
    ]);
    const patch = emulator.requests.find((r) => r.method === 'PATCH');
    expect(patch?.path).toMatch(/\/messages\/@original$/);
  });

  it('refuses a second acknowledgement with 40060 and a late one with 10062', async () => {
    const harness = await start({ interactionDeadlineMs: 150 });
    const { client, guild, emulator } = harness;
    await client.application!.commands.set([task.toJSON()]);
    const errors: unknown[] = [];
    onCommand(harness, async (interaction) => {
      if (interaction.options.getString('name') === 'late') {
        await new Promise((resolve) => setTimeout(resolve, 250));
        await interaction.reply('too late').catch((error: unknown) => errors.push(error));
        return;
      }
      await interaction.reply('first');
      // discord.js guards against double replies, so go around it as a buggy handler could.
      await client.rest
        .post(Routes.interactionCallback(interaction.id, interaction.token), {
          body: { type: InteractionResponseType.ChannelMessageWithSource, data: { content: 'second' } },
          auth: false,
        })
        .catch((error: unknown) => errors.push(error));
    });
    const base = {
      user: guild.members.alice!,
      guild: guild.id,
      channel: guild.channels.general!,
      command: 'task',
    };
    const first = emulator.invokeSlash({ ...base, subcommand: 'info', options: { name: 'twice' } });
    await first.waitForReply();
    await emulator.waitForRequest({ method: 'POST', path: '/interactions/:id/:token/callback', status: 400 });
    const late = emulator.invokeSlash({ ...base, subcommand: 'info', options: { name: 'late' } });
    await emulator.waitForRequest({
      method: 'POST',
      path: `/interactions/${late.id}/:token/callback`,
      status: 404,
    });
    await vi.waitFor(() => expect(errors).toHaveLength(2));
    expect(errors.map((e) => (e instanceof DiscordAPIError ? e.code : e))).toEqual([40060, 10062]);
    expect(first.record.rejectedCallbacks.map((r) => r.code)).toEqual([40060]);
    expect(late.original()).toBeNull();
  });

  it('validates invocations against the registered commands', async () => {
    const harness = await start();
    const { client, guild, emulator } = harness;
    await client.application!.commands.set([task.toJSON()]);
    const base = {
      user: guild.members.alice!,
      guild: guild.id,
      channel: guild.channels.general!,
      command: 'task',
    };
    expect(() => emulator.invokeSlash({ ...base, command: 'nope' })).toThrow(InvocationError);
    expect(() => emulator.invokeSlash({ ...base, subcommand: 'info', options: { nam: 'x' } })).toThrow(
      /unknown option "nam"/,
    );
    expect(() => emulator.invokeSlash({ ...base, subcommand: 'info', options: { name: 3 } })).toThrow(
      /expects a string/,
    );
    expect(() => emulator.invokeSlash({ ...base, subcommand: 'create', options: { name: 'x' } })).toThrow(
      /missing required/,
    );
    expect(() =>
      emulator.invokeSlash({
        ...base,
        subcommand: 'create',
        options: { name: 'x', channel: guild.channels.general!, count: 0 },
      }),
    ).toThrow(/below 1/);
    // bob lacks Manage Server, so Discord would not show him /task.
    expect(() =>
      emulator.invokeSlash({ ...base, user: guild.members.bob!, subcommand: 'info', options: { name: 'x' } }),
    ).toThrow(/permissions/);
  });

  it('answers autocomplete with the choices the bot offered', async () => {
    const harness = await start();
    const { client, guild, emulator } = harness;
    await client.application!.commands.set([task.toJSON()]);
    client.on('interactionCreate', (interaction) => {
      if (!interaction.isAutocomplete()) return;
      const typed = interaction.options.getFocused();
      void interaction.respond(
        ['standup', 'stats', 'backup'].filter((n) => n.startsWith(typed)).map((n) => ({ name: n, value: n })),
      );
    });
    const choices = await emulator.invokeAutocomplete({
      user: guild.members.alice!,
      guild: guild.id,
      channel: guild.channels.general!,
      command: 'task',
      subcommand: 'info',
      focused: 'name',
      value: 'st',
    });
    expect(choices.map((c) => c.value)).toEqual(['standup', 'stats']);
  });
});
