// The emulator refuses commands Discord would refuse for their size: over 8,000 characters of names,
// descriptions and choices in all, or more than 25 subcommands in a group.
import { DiscordAPIError, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { commandSize, MAX_COMMAND_SIZE } from '../../emulator/commands.js';
import { useHarness } from './harness.js';

type Body = RESTPostAPIChatInputApplicationCommandsJSONBody;
type Subcommand = { type: 1; name: string; description: string };
type Group = { type: 2; name: string; description: string; options: Subcommand[] };

const subcommand = (index: number, descriptionLength: number): Subcommand => ({
  type: 1,
  name: `sub-${String(index).padStart(6, '0')}`, // 10 characters
  description: 'd'.repeat(descriptionLength),
});

/** `/big` with groups of subcommands (100-character descriptions) adding up to exactly `size` characters. */
function commandOfSize(size: number): { name: string; description: string; options: Group[] } {
  const command = { name: 'big', description: 'A big one', options: [] as Group[] };
  let used = commandSize(command);
  while (used < size) {
    const group: Group = { type: 2, name: `g${command.options.length}`, description: 'A group', options: [] };
    used += commandSize(group);
    while (group.options.length < 25 && used < size) {
      const descriptionLength = Math.min(100, size - used - 10);
      group.options.push(subcommand(group.options.length, descriptionLength));
      used += 10 + descriptionLength;
    }
    command.options.push(group);
  }
  return command;
}

/** `/big` with one group of `count` small subcommands. */
const groupOf = (count: number): Body => ({
  name: 'big',
  description: 'A big one',
  options: [
    {
      type: 2,
      name: 'group',
      description: 'A group',
      options: Array.from({ length: count }, (_, index) => subcommand(index, 5)),
    },
  ],
});

describe('command size limits', () => {
  const start = useHarness();

  it('counts names, descriptions and choice names and values, the longest localization of each', () => {
    expect(
      commandSize({
        name: 'abc',
        name_localizations: { fr: 'abcdef' },
        description: 'xy',
        options: [
          {
            name: 'opt',
            description: 'd',
            description_localizations: { de: null },
            choices: [
              { name: 'one', value: 'uno' },
              { name: 'two', value: 22 },
            ],
          },
        ],
      }),
    ).toBe(6 + 2 + 3 + 1 + 3 + 3 + 3 + 2);
  });

  it('accepts exactly 8,000 characters and refuses one more with 50035 APPLICATION_COMMAND_TOO_LARGE', async () => {
    const harness = await start();
    const { client } = harness;
    const fits = commandOfSize(MAX_COMMAND_SIZE);
    expect(commandSize(fits)).toBe(MAX_COMMAND_SIZE);
    await client.application!.commands.set([fits]);

    const over = structuredClone(fits);
    over.options.at(-1)!.options.at(-1)!.description += '!';
    expect(commandSize(over)).toBe(MAX_COMMAND_SIZE + 1);
    const refused = await client.application!.commands.set([over]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(DiscordAPIError);
    expect((refused as DiscordAPIError).status).toBe(400);
    expect((refused as DiscordAPIError).code).toBe(50035);
    expect((refused as DiscordAPIError).rawError).toMatchObject({
      errors: { 0: { _errors: [{ code: 'APPLICATION_COMMAND_TOO_LARGE' }] } },
    });
    // POST is held to the same limit.
    await expect(client.application!.commands.create(over)).rejects.toMatchObject({ code: 50035 });
  });

  it('refuses a group of more than 25 subcommands', async () => {
    const harness = await start();
    await expect(harness.client.application!.commands.set([groupOf(26)])).rejects.toMatchObject({
      status: 400,
      code: 50035,
    });
    await harness.client.application!.commands.set([groupOf(25)]);
  });
});
