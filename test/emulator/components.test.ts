import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  ChannelType,
  type ChatInputCommandInteraction,
  ComponentType,
  DiscordAPIError,
  GatewayDispatchEvents,
  InteractionResponseType,
  type Message,
  type MessageComponentInteraction,
  MessageFlags,
  Routes,
  StringSelectMenuBuilder,
  type TextChannel,
} from 'discord.js';
import { describe, expect, it, vi } from 'vitest';
import { InvocationError } from '../../emulator/index.js';
import { type Harness, useHarness } from './harness.js';

const general = (h: Harness): TextChannel => {
  const channel = h.client.channels.cache.get(h.guild.channels.general!);
  if (channel?.type !== ChannelType.GuildText) throw new Error('general is not a text channel');
  return channel;
};

const buttons = (...ids: string[]) =>
  new ActionRowBuilder<ButtonBuilder>().addComponents(
    ids.map((id) =>
      new ButtonBuilder()
        .setCustomId(id)
        .setLabel(id)
        .setStyle(ButtonStyle.Primary)
        .setDisabled(id.startsWith('off')),
    ),
  );

const select = () =>
  new ActionRowBuilder<StringSelectMenuBuilder>().addComponents(
    new StringSelectMenuBuilder()
      .setCustomId('pick')
      .setMinValues(1)
      .setMaxValues(2)
      .addOptions(
        { label: 'Daily', value: 'daily' },
        { label: 'Weekly', value: 'weekly' },
        { label: 'Monthly', value: 'monthly' },
      ),
  );

/** The bot posts a message with a "count" button (and a disabled one) in #general. */
async function postPanel(harness: Harness): Promise<Message> {
  return general(harness).send({ content: 'Count: 0', components: [buttons('count', 'off'), select()] });
}

/** Runs `handler` for every component interaction the client receives. */
function onComponent(
  harness: Harness,
  handler: (interaction: MessageComponentInteraction) => Promise<unknown>,
): void {
  harness.client.on('interactionCreate', (interaction) => {
    if (interaction.isMessageComponent()) void handler(interaction).catch(() => {});
  });
}

describe('message components', () => {
  const start = useHarness();

  it('keeps components on create and edit, sends them on the gateway, and checks them', async () => {
    const harness = await start();
    const { emulator } = harness;
    const dispatched = emulator.gateway.waitForDispatch(GatewayDispatchEvents.MessageCreate);
    const panel = await postPanel(harness);
    expect(panel.components).toHaveLength(2);
    const created = (await dispatched).d as { components: { components: { custom_id: string }[] }[] };
    expect(created.components[0]!.components.map((c) => c.custom_id)).toEqual(['count', 'off']);
    await panel.edit({ components: [buttons('count')] });
    const stored = emulator.world.message(panel.id).message;
    expect(stored.components).toHaveLength(1);
    expect(emulator.world.transcript(panel.channelId).map((e) => e.message.components?.length)).toEqual([
      2, 1,
    ]);
    await expect(general(harness).send({ components: [buttons('a', 'a')] })).rejects.toMatchObject({
      code: 50035,
    });
  });

  it('update edits the source message in place', async () => {
    const harness = await start();
    const { emulator, guild } = harness;
    const panel = await postPanel(harness);
    let seen: MessageComponentInteraction | undefined;
    onComponent(harness, async (interaction) => {
      seen = interaction;
      await interaction.update({ content: 'Count: 1' });
    });
    const handle = emulator.invokeComponent({
      user: guild.members.bob!,
      message: panel.id,
      customId: 'count',
    });
    expect((await handle.waitForAck()).type).toBe(InteractionResponseType.UpdateMessage);
    const updated = await handle.waitForReply();
    expect(updated.id).toBe(panel.id);
    expect(updated.content).toBe('Count: 1');
    expect(updated.components).toHaveLength(2); // not given, so kept
    expect(seen?.customId).toBe('count');
    expect(seen?.componentType).toBe(ComponentType.Button);
    expect(seen?.message.id).toBe(panel.id);
    expect(seen?.user.id).toBe(guild.members.bob);
    expect(seen?.appPermissions.has('SendMessages')).toBe(true);
    expect(emulator.world.transcript(panel.channelId).map((e) => [e.kind, e.message.content])).toEqual([
      ['create', 'Count: 0'],
      ['update', 'Count: 1'],
    ]);
    // MESSAGE_UPDATE reached the bot's cache.
    await vi.waitFor(() => expect(general(harness).messages.cache.get(panel.id)?.content).toBe('Count: 1'));
  });

  it('deferUpdate, then editReply edits the source message', async () => {
    const harness = await start();
    const { emulator, guild } = harness;
    const panel = await postPanel(harness);
    onComponent(harness, async (interaction) => {
      await interaction.deferUpdate();
      await interaction.editReply({ content: 'Counted later', components: [] });
    });
    const handle = emulator.invokeComponent({
      user: guild.members.bob!,
      message: panel.id,
      customId: 'count',
    });
    expect((await handle.waitForAck()).type).toBe(InteractionResponseType.DeferredMessageUpdate);
    const edited = await handle.waitForReply();
    expect([edited.id, edited.content, edited.components]).toEqual([panel.id, 'Counted later', []]);
    expect(emulator.world.message(panel.id).message.content).toBe('Counted later');
    const patch = await emulator.waitForRequest({ method: 'PATCH', path: /\/webhooks\// });
    expect(patch.path).toMatch(/\/messages\/@original$/);
  });

  it('delivers select values, and a reply to a component is a new (ephemeral) message', async () => {
    const harness = await start();
    const { emulator, guild } = harness;
    const panel = await postPanel(harness);
    onComponent(harness, async (interaction) => {
      if (!interaction.isStringSelectMenu()) return;
      await interaction.reply({
        content: `picked ${interaction.values.join('+')}`,
        flags: MessageFlags.Ephemeral,
      });
    });
    const handle = emulator.invokeComponent({
      user: guild.members.alice!,
      message: panel.id,
      customId: 'pick',
      values: ['weekly', 'daily'],
    });
    const reply = await handle.waitForReply();
    expect(reply.content).toBe('picked weekly+daily');
    expect(handle.ephemeral).toBe(true);
    expect(reply.id).not.toBe(panel.id);
    expect(emulator.world.message(panel.id).message.content).toBe('Count: 0');
    expect(emulator.world.transcript(panel.channelId)).toHaveLength(1);
  });

  it('refuses a second acknowledgement with 40060 and a late one with 10062', async () => {
    const harness = await start({ interactionDeadlineMs: 150 });
    const { client, emulator, guild } = harness;
    const panel = await postPanel(harness);
    const errors: unknown[] = [];
    onComponent(harness, async (interaction) => {
      if (interaction.isStringSelectMenu()) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        await interaction.deferUpdate().catch((error: unknown) => errors.push(error));
        return;
      }
      await interaction.update({ content: 'first' });
      await client.rest
        .post(Routes.interactionCallback(interaction.id, interaction.token), {
          body: { type: InteractionResponseType.UpdateMessage, data: { content: 'second' } },
          auth: false,
        })
        .catch((error: unknown) => errors.push(error));
    });
    const first = emulator.invokeComponent({
      user: guild.members.bob!,
      message: panel.id,
      customId: 'count',
    });
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    const late = emulator.invokeComponent({
      user: guild.members.bob!,
      message: panel.id,
      customId: 'pick',
      values: ['daily'],
    });
    await vi.waitFor(() => expect(errors).toHaveLength(2));
    expect(errors.map((e) => (e instanceof DiscordAPIError ? e.code : e))).toEqual([40060, 10062]);
    expect(first.record.rejectedCallbacks.map((r) => r.code)).toEqual([40060]);
    expect(late.record.callback).toBeNull();
    expect(emulator.world.message(panel.id).message.content).toBe('first');
  });

  it('validates invocations: message, author, custom_id, disabled, select values', async () => {
    const harness = await start();
    const { emulator, guild } = harness;
    const panel = await postPanel(harness);
    const bob = guild.members.bob!;
    const invoke =
      (customId: string, values?: string[], message = panel.id) =>
      () =>
        emulator.invokeComponent({ user: bob, message, customId, ...(values ? { values } : {}) });
    expect(invoke('nope')).toThrow(InvocationError);
    expect(invoke('nope')).toThrow(/no component with custom_id "nope"/);
    expect(invoke('off')).toThrow(/disabled/);
    expect(invoke('count', ['x'])).toThrow(/button/);
    expect(invoke('pick')).toThrow(/values are required/);
    expect(invoke('pick', ['yearly'])).toThrow(/"yearly" not among its options/);
    expect(invoke('pick', ['daily', 'weekly', 'monthly'])).toThrow(/1-2 values/);
    expect(invoke('count', undefined, '123')).toThrow(/does not exist/);
    const posted = emulator.world.postMessage({ channel: panel.channelId, author: bob, content: 'hi' });
    expect(invoke('count', undefined, posted.id)).toThrow(/not sent by the bot/);
    // No interaction reached the gateway for any of them.
    expect(
      emulator.gateway.frames.entries.filter((f) => f.t === GatewayDispatchEvents.InteractionCreate),
    ).toEqual([]);
  });

  it('refuses update and deferred update for a slash command with 50035', async () => {
    const harness = await start();
    const { client, emulator, guild } = harness;
    await client.application!.commands.set([{ name: 'ping', description: 'Pong' }]);
    const codes: unknown[] = [];
    client.on('interactionCreate', (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      void (async (i: ChatInputCommandInteraction) => {
        for (const type of [
          InteractionResponseType.UpdateMessage,
          InteractionResponseType.DeferredMessageUpdate,
        ]) {
          await client.rest
            .post(Routes.interactionCallback(i.id, i.token), { body: { type, data: {} }, auth: false })
            .catch((error: unknown) => codes.push(error instanceof DiscordAPIError ? error.code : error));
        }
        await i.reply('pong'); // the refusals did not acknowledge it
      })(interaction);
    });
    const handle = emulator.invokeSlash({
      user: guild.members.bob!,
      guild: guild.id,
      channel: guild.channels.general!,
      command: 'ping',
    });
    expect((await handle.waitForReply()).content).toBe('pong');
    expect(codes).toEqual([50035, 50035]);
    expect(handle.record.rejectedCallbacks.map((r) => [r.type, r.code])).toEqual([
      [InteractionResponseType.UpdateMessage, 50035],
      [InteractionResponseType.DeferredMessageUpdate, 50035],
    ]);
  });
});
