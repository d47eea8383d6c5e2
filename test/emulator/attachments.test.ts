import {
  type ChatInputCommandInteraction,
  DiscordAPIError,
  MessageFlags,
  SlashCommandBuilder,
} from 'discord.js';
import { describe, expect, it } from 'vitest';
import { InvocationError, MAX_ATTACHMENT_BYTES } from '../../emulator/index.js';
import { type Harness, useHarness } from './harness.js';

const transfer = new SlashCommandBuilder()
  .setName('transfer')
  .setDescription('Files in and out')
  .addSubcommand((s) =>
    s
      .setName('in')
      .setDescription('Upload a file')
      .addAttachmentOption((o) => o.setName('file').setDescription('The file').setRequired(true)),
  )
  .addSubcommand((s) => s.setName('out').setDescription('Get a file'));

/** Registers /transfer and runs `handler` for each of its invocations; its errors reach the test. */
async function onTransfer(
  harness: Harness,
  handler: (interaction: ChatInputCommandInteraction) => Promise<void>,
): Promise<Promise<void>[]> {
  await harness.client.application!.commands.set([transfer.toJSON()]);
  const runs: Promise<void>[] = [];
  harness.client.on('interactionCreate', (interaction) => {
    if (interaction.isChatInputCommand()) runs.push(handler(interaction));
  });
  return runs;
}

function invoke(harness: Harness, subcommand: string, options: Record<string, string> = {}) {
  return harness.emulator.invokeSlash({
    command: 'transfer',
    subcommand,
    options,
    user: harness.guild.members.alice!,
    guild: harness.guild.id,
    channel: harness.guild.channels.general!,
  });
}

describe('attachments', () => {
  const start = useHarness();

  it('carries an uploaded file in resolved.attachments, and the bot downloads it from its url', async () => {
    const harness = await start();
    let downloaded = '';
    await onTransfer(harness, async (interaction) => {
      const file = interaction.options.getAttachment('file', true);
      const response = await fetch(file.url);
      downloaded = await response.text();
      await interaction.reply({
        content: `${file.name} ${file.size} ${file.contentType} ${response.status}`,
        flags: MessageFlags.Ephemeral,
      });
    });
    const id = harness.emulator.uploadAttachment({ filename: 'tasks.json', content: '{"version":1}' });
    const reply = await invoke(harness, 'in', { file: id }).waitForReply();
    expect(reply.content).toBe('tasks.json 13 application/json; charset=utf-8 200');
    expect(downloaded).toBe('{"version":1}');
  });

  it('keeps a reply file byte for byte: the message lists it and its url serves it', async () => {
    const harness = await start();
    const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13]);
    await onTransfer(harness, async (interaction) => {
      await interaction.reply({
        content: 'here',
        files: [
          { attachment: Buffer.from('{"a":1}'), name: 'export.json' },
          { attachment: bytes, name: 'raw.bin' },
        ],
        flags: MessageFlags.Ephemeral,
      });
    });
    const reply = await invoke(harness, 'out').waitForReply();
    expect(reply.attachments.map((a) => [a.filename, a.size])).toEqual([
      ['export.json', 7],
      ['raw.bin', 7],
    ]);
    expect(harness.emulator.downloadAttachment(reply.attachments[0]!.url).toString()).toBe('{"a":1}');
    const served = await fetch(reply.attachments[1]!.url);
    expect(Buffer.from(await served.arrayBuffer())).toEqual(bytes);
    // The request was recorded with its JSON payload; the file parts are not in it.
    const callback = harness.emulator.requests.find((r) => r.route?.endsWith('/callback'));
    expect(JSON.stringify(callback?.body)).toContain('"content":"here"');
  });

  it('sends a file alone, and adds files when a deferred reply is edited', async () => {
    const harness = await start();
    await onTransfer(harness, async (interaction) => {
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      await interaction.editReply({ files: [{ attachment: Buffer.from('late'), name: 'late.txt' }] });
      await interaction.followUp({
        files: [{ attachment: Buffer.from('more'), name: 'more.txt' }],
        flags: MessageFlags.Ephemeral,
      });
    });
    const handle = invoke(harness, 'out');
    const reply = await handle.waitForReply((m) => m.attachments.length > 0);
    expect(harness.emulator.downloadAttachment(reply.attachments[0]!.url).toString()).toBe('late');
    const followUp = await handle.waitForFollowUp();
    expect(followUp.content).toBe('');
    expect(harness.emulator.downloadAttachment(followUp.attachments[0]!.url).toString()).toBe('more');
  });

  it('drops the files an edit no longer lists', async () => {
    const harness = await start();
    await onTransfer(harness, async (interaction) => {
      await interaction.reply({
        content: 'v1',
        files: [{ attachment: Buffer.from('one'), name: 'one.txt' }],
        flags: MessageFlags.Ephemeral,
      });
      await interaction.editReply({ content: 'v2', attachments: [] });
    });
    const reply = await invoke(harness, 'out').waitForReply((m) => m.content === 'v2');
    expect(reply.attachments).toEqual([]);
  });

  it('refuses a reply over the upload limit with 40005', async () => {
    const harness = await start();
    let refusal: unknown;
    const runs = await onTransfer(harness, async (interaction) => {
      try {
        await interaction.reply({
          files: [{ attachment: Buffer.alloc(MAX_ATTACHMENT_BYTES + 1), name: 'big.bin' }],
        });
      } catch (error) {
        refusal = error;
      }
    });
    invoke(harness, 'out');
    await harness.emulator.waitForRequest({ path: /\/callback$/, status: 413 });
    await Promise.all(runs);
    expect(refusal).toBeInstanceOf(DiscordAPIError);
    expect((refusal as DiscordAPIError).code).toBe(40005);
  });

  it('refuses attachment options that name no uploaded file, and uploads over the limit', async () => {
    const harness = await start();
    await onTransfer(harness, async () => {});
    expect(() => invoke(harness, 'in', { file: '123456789012345678' })).toThrow(InvocationError);
    expect(() => invoke(harness, 'in', {})).toThrow(/missing required option/);
    expect(() =>
      harness.emulator.uploadAttachment({
        filename: 'huge.json',
        content: new Uint8Array(MAX_ATTACHMENT_BYTES + 1),
      }),
    ).toThrow(/larger than Discord's/);
    expect(() => harness.emulator.downloadAttachment('http://x/attachments/0/1/none.json')).toThrow(
      /no attachment/,
    );
  });

  it('answers 404 for a file it does not hold, and applies injected faults to downloads', async () => {
    const harness = await start();
    const id = harness.emulator.uploadAttachment({ filename: 'a b.json', content: '[]' });
    const url = harness.emulator.attachments.apiAttachment(harness.emulator.attachments.get(id)).url;
    expect(url).toMatch(/\/a%20b\.json$/);
    expect((await fetch(url)).status).toBe(200);
    expect((await fetch(url.replace(/\/\d+\//, '/1/'))).status).toBe(404);
    harness.emulator.rest.faults.fail({ path: /\/attachments\// }, { status: 500 });
    expect((await fetch(url)).status).toBe(500);
    expect(await (await fetch(url)).text()).toBe('[]');
  });

  it('keeps a malformed multipart body as text instead of crashing', async () => {
    const harness = await start();
    const response = await fetch(`${harness.emulator.apiBase}/v10/interactions/1/x/callback`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=zzz', 'user-agent': 'test' },
      body: 'not a form',
    });
    expect(response.status).toBe(404);
    expect(harness.emulator.requests.at(-1)?.body).toBe('not a form');
  });
});
