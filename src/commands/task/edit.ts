// /task edit name [rename] [channel] [count] [catchup] [timeout] [the built-in kinds' options] [option value]
// [clear]: change what a task does, keeping its history and progress. One subcommand for every kind, so its
// size does not grow with the kinds loaded: the built-in kinds' options are typed (a role picker, choices);
// any kind's option, a custom kind's included, can be set by name with option + value.
import { type ApplicationCommandOptionBase, SlashCommandSubcommandBuilder } from '@discordjs/builders';
import {
  type APIApplicationCommandBasicOption,
  type ApplicationCommandOptionChoiceData,
  ApplicationCommandOptionType,
  type ChatInputCommandInteraction,
  type CommandInteractionOption,
  type Guild,
} from 'discord.js';
import { retryWhileBusy } from '../../db/busy.js';
import {
  isOtherServersChannel,
  missingChannelPermission,
  neededChannelPermissions,
  TASK_CHANNEL_TYPES,
} from '../../discord/channel-permissions.js';
import { handlerSlashOptions, validateHandlerOptions } from '../../discord/handler-options.js';
import { fail, formatEvery, ok, type Parsed, parseTimeout } from '../../discord/input.js';
import {
  currentFirst,
  currentNumberFirst,
  cut,
  optionValueChoices,
  parseOptionValue,
  showOptionValue,
} from '../../discord/option-value.js';
import { type CommandContext, MAX_CHOICES, type TaskSubcommand } from '../../discord/task-command.js';
import counter from '../../handlers/builtin/counter.js';
import leaderboard from '../../handlers/builtin/leaderboard.js';
import reminder from '../../handlers/builtin/reminder.js';
import type { Handler } from '../../handlers/define.js';
import {
  DEFAULT_TIMEOUT_MS,
  type EditChecks,
  SCHEDULE_NOT_EDITABLE,
  type Task,
  type TaskChanges,
  TaskError,
} from '../../tasks/index.js';
import { addTaskNameOption, autocompleteShared, MAX_COUNT, MAX_NAME_LENGTH } from '../options.js';

/** As at create. */
const SCHEDULE_OPTIONS = ['every', 'at', 'timezone', 'cron'];
/** Options of edit itself; everything else given is a kind option. */
const OWN_OPTIONS = ['name', 'rename', 'channel', 'count', 'catchup', 'timeout', 'option', 'value', 'clear'];
/** What `clear` does to the options every task has. */
const CLEARABLE_COMMON: Record<string, string> = { count: 'runs forever', timeout: 'back to 1m' };

type KindOption = APIApplicationCommandBasicOption;

/**
 * The built-in kinds' options, optional here, each once (`title` serves reminder and leaderboard); free text
 * and numbers autocomplete with the task's current value. Taken from the kinds' own builders, so their limits
 * (lengths, ranges, choices) are Discord's to enforce here as at create.
 */
function typedKindOptions(handlers: readonly Handler[]): ApplicationCommandOptionBase[] {
  const byName = new Map<
    string,
    { option: ApplicationCommandOptionBase; kinds: string[]; about: Set<string> }
  >();
  for (const handler of handlers) {
    const scratch = new SlashCommandSubcommandBuilder()
      .setName(handler.kind)
      .setDescription(handler.description);
    for (const option of (handler.slashOptions?.(scratch) ?? scratch).options) {
      const seen = byName.get(option.name);
      if (seen) {
        seen.kinds.push(handler.kind);
        seen.about.add(option.description);
      } else {
        byName.set(option.name, { option, kinds: [handler.kind], about: new Set([option.description]) });
      }
    }
  }
  return [...byName.values()].map(({ option, kinds, about }) => {
    const description =
      about.size === 1
        ? `${kinds.join(', ')}: ${option.description}`
        : `${capitalize(option.name)} (${kinds.join(', ')})`;
    option.setRequired(false).setDescription(description.slice(0, 100));
    const hasChoices = 'choices' in option && Array.isArray(option.choices) && option.choices.length > 0;
    if (!hasChoices && 'setAutocomplete' in option && typeof option.setAutocomplete === 'function') {
      option.setAutocomplete(true);
    }
    return option;
  });
}

const TYPED = typedKindOptions([reminder, counter, leaderboard] as Handler[]);

function buildData(): SlashCommandSubcommandBuilder {
  const builder = addTaskNameOption(
    new SlashCommandSubcommandBuilder()
      .setName('edit')
      .setDescription("Change a task's options, channel, name or count"),
  )
    .addStringOption((o) =>
      o
        .setName('rename')
        .setDescription('A new name for the task')
        .setMaxLength(MAX_NAME_LENGTH)
        .setAutocomplete(true),
    )
    .addChannelOption((o) =>
      o
        .setName('channel')
        .setDescription('Move it to this channel')
        .addChannelTypes(...TASK_CHANNEL_TYPES),
    )
    .addIntegerOption((o) =>
      o
        .setName('count')
        .setDescription('Runs in all, counting those done (clear:count runs forever)')
        .setMinValue(1)
        .setMaxValue(MAX_COUNT)
        .setAutocomplete(true),
    )
    .addStringOption((o) =>
      o
        .setName('catchup')
        .setDescription('After downtime: skip missed runs or run one late')
        .addChoices({ name: 'skip missed runs', value: 'skip' }, { name: 'run once late', value: 'once' }),
    )
    .addStringOption((o) =>
      o
        .setName('timeout')
        .setDescription('Abort a run after… like 30s or 5m (max 15m)')
        .setMaxLength(20)
        .setAutocomplete(true),
    );
  builder.options.push(...TYPED);
  return builder
    .addStringOption((o) =>
      o
        .setName('option')
        .setDescription("Any option of the task's kind, set to value")
        .setMaxLength(32)
        .setAutocomplete(true),
    )
    .addStringOption((o) =>
      o.setName('value').setDescription('The new value of option').setMaxLength(2000).setAutocomplete(true),
    )
    .addStringOption((o) =>
      o
        .setName('clear')
        .setDescription('Options to remove, like role, title or count')
        .setMaxLength(200)
        .setAutocomplete(true),
    );
}

export const data = buildData();

export const execute: TaskSubcommand['execute'] = async (interaction, ctx) => {
  const { options } = interaction;
  // Not offered by edit, but a forged interaction may still carry them.
  if (SCHEDULE_OPTIONS.some((name) => options.get(name) !== null)) return SCHEDULE_NOT_EDITABLE;
  const name = options.getString('name', true);
  const { task } = await retryWhileBusy(() => ctx.runtime.info(interaction.guildId, name, 0));
  const handler = ctx.registry.get(task.kind);
  const changes = changesOf(interaction, task, handler);
  if (!changes.ok) throw new TaskError('invalid_definition', changes.error);
  if (Object.keys(changes.value).length === 0) {
    throw new TaskError(
      'invalid_definition',
      'Give at least one thing to change: a kind option, `rename`, `channel`, `count`, `catchup`, `timeout`, `option` with `value`, or `clear`.',
    );
  }
  // Saved before channels were checked (or forged): only a new channel of this server goes through.
  if (changes.value.channelId === undefined && isOtherServersChannel(interaction.guild, task.channelId)) {
    throw new TaskError(
      'invalid_definition',
      `**${task.name}** posts in a channel of another server, which is not allowed; give it one of this server's channels with \`channel\`.`,
    );
  }
  const edited = await ctx.runtime.edit(
    interaction.guildId,
    name,
    changes.value,
    checksFor(interaction.guild, task, handler),
  );
  return edited.reply;
};

/** Create's checks for this task's kind; a kind no longer loaded cannot have its options or channel checked. */
function checksFor(guild: Guild, task: Task, handler: Handler | undefined): EditChecks {
  const gone = () =>
    new TaskError(
      'invalid_definition',
      `There is no task kind "${task.kind}" on this bot any more, so only the name, count, catch-up and timeout of **${task.name}** can change.`,
    );
  return {
    options(merged) {
      if (!handler) throw gone();
      const parsed = validateHandlerOptions(handler, merged, guild);
      if (!parsed.ok) throw new TaskError('invalid_definition', parsed.error);
      return parsed.value;
    },
    channel(channelId, options) {
      if (!handler) throw gone();
      return missingChannelPermission(guild, channelId, neededChannelPermissions(handler, options, guild));
    },
  };
}

/** What the interaction asks to change, or the sentence for the first thing wrong with it. */
function changesOf(
  interaction: ChatInputCommandInteraction<'cached'>,
  task: Task,
  handler: Handler | undefined,
): Parsed<TaskChanges> {
  const { options } = interaction;
  const changes: TaskChanges = {};
  const rename = options.getString('rename');
  if (rename !== null) changes.name = rename.trim();
  const channel = options.getChannel('channel');
  if (channel !== null) changes.channelId = channel.id;
  const count = options.getInteger('count');
  if (count !== null) changes.count = count;
  const catchUp = options.getString('catchup');
  if (catchUp !== null) changes.catchUp = catchUp as TaskChanges['catchUp'];
  const timeoutText = options.getString('timeout');
  if (timeoutText !== null) {
    const timeout = parseTimeout(timeoutText);
    if (!timeout.ok) return timeout;
    changes.timeoutMs = timeout.value * 1000;
  }
  const declared = handler ? handlerSlashOptions(handler) : [];
  const set: Record<string, unknown> = {};
  for (const given of leafOptions(interaction)) {
    if (OWN_OPTIONS.includes(given.name)) continue;
    const option = declared.find((o) => o.name === given.name);
    if (!option) return fail(noSuchOption(task, given.name, declared));
    if (option.type !== given.type) {
      return fail(
        `For a ${task.kind} task, set \`${given.name}\` with \`option:${given.name}\` and \`value\`.`,
      );
    }
    set[given.name] = given.value; // as create collects it: users, roles and channels by id
  }
  const optionName = options.getString('option')?.trim().toLowerCase() ?? null;
  const valueText = options.getString('value');
  if ((optionName === null) !== (valueText === null)) {
    return fail('`option` and `value` go together: name the option, and give its new value.');
  }
  if (optionName !== null && valueText !== null) {
    const option = declared.find((o) => o.name === optionName);
    if (!option) return fail(noSuchOption(task, optionName, declared));
    if (optionName in set) return fail(`\`${optionName}\` is given twice; give it once.`);
    const value = parseOptionValue(interaction.guild, option, valueText);
    if (!value.ok) return value;
    set[optionName] = value.value;
  }
  if (Object.keys(set).length > 0) changes.setOptions = set;
  const clear = parseClear(options.getString('clear'), task, declared, changes);
  if (!clear.ok) return clear;
  if (clear.value.length > 0) changes.clearOptions = clear.value;
  return ok(changes);
}

/** The options given to the subcommand (discord.js files them under it). */
function leafOptions(interaction: ChatInputCommandInteraction): readonly CommandInteractionOption[] {
  const [first] = interaction.options.data;
  return first?.type === ApplicationCommandOptionType.Subcommand
    ? (first.options ?? [])
    : interaction.options.data;
}

function noSuchOption(task: Task, name: string, declared: readonly KindOption[]): string {
  const has =
    declared.length === 0
      ? 'no options of its own'
      : `these: ${declared.map((o) => `\`${o.name}\``).join(', ')}`;
  return `A ${task.kind} task has no \`${name}\` option; it has ${has}.`;
}

/** `clear:role, title`: the kind options to clear (returned); `count` and `timeout` are set in `changes`. */
function parseClear(
  text: string | null,
  task: Task,
  declared: readonly KindOption[],
  changes: TaskChanges,
): Parsed<string[]> {
  if (text === null) return ok([]);
  const names = [
    ...new Set(
      text
        .toLowerCase()
        .split(/[\s,]+/)
        .filter(Boolean),
    ),
  ];
  if (names.length === 0) return fail('Name the options to clear, like `role` or `role, title`.');
  const kindOptions: string[] = [];
  for (const name of names) {
    if (name in CLEARABLE_COMMON) {
      const key = name === 'count' ? 'count' : 'timeoutMs';
      if (changes[key] !== undefined)
        return fail(`\`${name}\` is both given a value and cleared; do one or the other.`);
      changes[key] = null;
    } else if (declared.some((o) => o.name === name)) {
      if (declared.some((o) => o.name === name && o.required)) {
        return fail(`A ${task.kind} task needs a \`${name}\`; give it a new one instead of clearing it.`);
      }
      if (changes.setOptions && name in changes.setOptions) {
        return fail(`\`${name}\` is both given a value and cleared; do one or the other.`);
      }
      kindOptions.push(name);
    } else if (['name', 'channel', 'catchup'].includes(name)) {
      return fail(
        `Every task has a ${name === 'catchup' ? 'catch-up policy' : name}; set a new one instead of clearing it.`,
      );
    } else {
      return fail(noSuchOption(task, name, declared));
    }
  }
  return ok(kindOptions);
}

/** Current values first, so an admin sees what they are changing and can start from it. */
export const autocomplete: TaskSubcommand['autocomplete'] = async (interaction, ctx) => {
  const focused = interaction.options.getFocused(true);
  if (focused.name === 'name') return autocompleteShared(interaction, ctx);
  const task = taskOf(interaction.options.getString('name'), interaction.guildId, ctx);
  if (!task) return [];
  const declared = handlerFor(task, ctx);
  const typed = String(focused.value).trim();
  switch (focused.name) {
    case 'rename':
      return currentFirst(`current name: ${task.name}`, task.name, typed);
    case 'count':
      return currentNumberFirst(
        task.count === null ? undefined : task.count,
        `current: ${task.count ?? 'forever'} (${task.currentLoop} done)`,
        typed,
      );
    case 'timeout':
      return currentFirst(
        `current: ${formatEvery(task.timeoutMs / 1000)}`,
        formatEvery(task.timeoutMs / 1000),
        typed,
      );
    case 'option':
      return declared
        .filter((o) => o.name.startsWith(typed.toLowerCase()))
        .slice(0, MAX_CHOICES)
        .map((o) => ({
          name: cut(`${o.name}: ${showOptionValue(interaction.guild, o, task.options[o.name])}`),
          value: o.name,
        }));
    case 'value': {
      const option = declared.find(
        (o) => o.name === interaction.options.getString('option')?.trim().toLowerCase(),
      );
      return option ? optionValueChoices(interaction.guild, option, task.options[option.name], typed) : [];
    }
    case 'clear':
      return clearChoices(task, declared, typed);
  }
  const option = declared.find((o) => o.name === focused.name);
  if (!option) return [];
  const current = task.options[option.name];
  if (option.type !== ApplicationCommandOptionType.String) {
    return currentNumberFirst(
      typeof current === 'number' ? current : undefined,
      `current: ${showOptionValue(interaction.guild, option, current)}`,
      typed,
    );
  }
  return currentFirst(
    `current: ${showOptionValue(interaction.guild, option, current)}`,
    typeof current === 'string' ? current : undefined,
    typed,
  );
};

function taskOf(name: string | null, guildId: string, ctx: CommandContext): Task | undefined {
  if (!name) return undefined;
  try {
    return ctx.runtime.info(guildId, name.trim(), 0).task;
  } catch {
    return undefined; // no such task (yet): nothing to show
  }
}

function handlerFor(task: Task, ctx: CommandContext): KindOption[] {
  const handler = ctx.registry.get(task.kind);
  return handler ? handlerSlashOptions(handler) : [];
}

/** The options that can be cleared now, after what is already typed (`role, ti` → `role, title`). */
function clearChoices(
  task: Task,
  declared: readonly KindOption[],
  typed: string,
): ApplicationCommandOptionChoiceData[] {
  const parts = typed
    .toLowerCase()
    .split(',')
    .map((part) => part.trim());
  const last = parts.pop() ?? '';
  const before = parts.filter(Boolean);
  const head = before.length > 0 ? `${before.join(', ')}, ` : '';
  const clearable = [
    ...declared
      .filter((o) => !o.required && task.options[o.name] !== undefined)
      .map((o) => ({ name: o.name, what: 'remove' })),
    ...(task.count !== null ? [{ name: 'count', what: CLEARABLE_COMMON.count! }] : []),
    ...(task.timeoutMs !== DEFAULT_TIMEOUT_MS ? [{ name: 'timeout', what: CLEARABLE_COMMON.timeout! }] : []),
  ];
  return clearable
    .filter((entry) => entry.name.startsWith(last) && !before.includes(entry.name))
    .slice(0, MAX_CHOICES)
    .map((entry) => ({
      name: cut(`${head}${entry.name} (${entry.what})`),
      value: cut(`${head}${entry.name}`),
    }));
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
