// Routes `/task` interactions (commands, autocomplete, and clicks on the buttons of its replies) to their
// subcommand modules, with the guard every one of them shares: server only, Manage Server only (checked
// again here, whatever Discord's defaults hid), every reply ephemeral, and every interaction answered, even
// when the command throws.
import {
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
  type Client,
  Events,
  type Interaction,
  type MessageComponentInteraction,
  MessageFlags,
  PermissionFlagsBits,
} from 'discord.js';
import { databaseFaultOf, databaseFaultSentence, sqliteCodeOf } from '../db/errors.js';
import { censorToken } from '../log.js';
import type { BotMetrics, CommandOutcome } from '../metrics/metrics.js';
import { TaskError } from '../tasks/index.js';
import {
  type CommandContext,
  type CommandReply,
  type ComponentReply,
  MAX_CHOICES,
  ownsComponentId,
  parseComponentId,
  type TaskSubcommand,
} from './task-command.js';

export const NOT_IN_SERVER = '`/task` only works in a server, not in direct messages.';
export const SERVER_NOT_READY = "I can't see this server yet; try again in a moment.";
export const NEEDS_MANAGE_SERVER = 'You need the **Manage Server** permission to use `/task`.';
export const SOMETHING_WENT_WRONG =
  'Something went wrong while running that command. It has been logged; please try again.';
export const STALE_COMPONENT = 'That button no longer works; run the command again.';

/** Past this, the reply is deferred (Discord allows 3 s for the first answer) and edited in later. */
export const DEFAULT_DEFER_AFTER_MS = 1_500;

export interface RouterOptions {
  commandName: string;
  /** By top-level name: a subcommand or a subcommand group. */
  subcommands: ReadonlyMap<string, TaskSubcommand>;
  ctx: CommandContext;
  deferAfterMs?: number;
  /** Counts commands by subcommand and outcome, and times their first answer. */
  metrics?: Pick<BotMetrics, 'commands' | 'commandAck'>;
}

/** Listens for interactions on the client; returns a function that stops listening. */
export function routeInteractions(client: Client, options: RouterOptions): () => void {
  const listener = (interaction: Interaction): void => {
    if (interaction.isMessageComponent()) {
      // Other listeners may own other components: answer only ids under this command's prefix, every one of
      // them (one it cannot read gets a sentence rather than Discord's "This interaction failed").
      if (!ownsComponentId(options.commandName, interaction.customId)) return;
      void answerComponent(interaction, options).catch((error) => logFailure(options, interaction, error));
      return;
    }
    if (!('commandName' in interaction) || interaction.commandName !== options.commandName) return;
    if (interaction.isChatInputCommand()) {
      void answerCommand(interaction, options).catch((error) => logFailure(options, interaction, error));
    } else if (interaction.isAutocomplete()) {
      void answerAutocomplete(interaction, options).catch((error) => logFailure(options, interaction, error));
    }
  };
  client.on(Events.InteractionCreate, listener);
  return () => client.off(Events.InteractionCreate, listener);
}

type RoutedInteraction = ChatInputCommandInteraction | AutocompleteInteraction | MessageComponentInteraction;

/** `create reminder`, `list`: the path the member typed (or whose button they clicked), for logs. */
function pathOf(interaction: RoutedInteraction, commandName: string): string {
  if (interaction.isMessageComponent())
    return parseComponentId(commandName, interaction.customId)?.subcommand ?? '';
  const group = interaction.options.getSubcommandGroup(false);
  const subcommand = interaction.options.getSubcommand(false);
  return [group, subcommand].filter(Boolean).join(' ');
}

function moduleFor(
  interaction: ChatInputCommandInteraction | AutocompleteInteraction,
  options: RouterOptions,
): TaskSubcommand | undefined {
  const key = interaction.options.getSubcommandGroup(false) ?? interaction.options.getSubcommand(false);
  return key === null ? undefined : options.subcommands.get(key);
}

/** Why this member may not use /task here, as the sentence to show; undefined when they may. */
function refusal(interaction: RoutedInteraction): string | undefined {
  if (!interaction.inGuild()) return NOT_IN_SERVER;
  if (!interaction.inCachedGuild()) return SERVER_NOT_READY;
  if (!interaction.memberPermissions.has(PermissionFlagsBits.ManageGuild)) return NEEDS_MANAGE_SERVER;
  return undefined;
}

async function answerCommand(
  interaction: ChatInputCommandInteraction,
  options: RouterOptions,
): Promise<void> {
  const acknowledged = ackTimer(interaction, options);
  let deferral: Promise<unknown> | undefined;
  const timer = setTimeout(() => {
    deferral = interaction
      .deferReply({ flags: MessageFlags.Ephemeral })
      .then(acknowledged, (error) => logFailure(options, interaction, error, 'could not defer the reply'));
  }, options.deferAfterMs ?? DEFAULT_DEFER_AFTER_MS);
  let content: CommandReply;
  let outcome: CommandOutcome;
  try {
    ({ content, outcome } = await runCommand(interaction, options));
  } catch (error) {
    content = failureReply(options, interaction, error);
    outcome = error instanceof TaskError ? 'refused' : 'error';
  } finally {
    clearTimeout(timer);
  }
  await deferral;
  try {
    await send(interaction, content);
    acknowledged();
  } catch (error) {
    outcome = 'error';
    logFailure(options, interaction, error, 'could not send the reply');
    // The reply itself was refused (too long, say): still tell the member something.
    if (content !== SOMETHING_WENT_WRONG) await send(interaction, SOMETHING_WENT_WRONG);
  } finally {
    options.metrics?.commands.inc({ subcommand: subcommandLabel(interaction, options), outcome });
  }
}

/**
 * Observes, once, the time from the interaction's creation (its snowflake's timestamp, so the gateway's
 * delivery counts, as it does toward Discord's 3-second limit) to Discord accepting the first answer.
 */
function ackTimer(interaction: ChatInputCommandInteraction, options: RouterOptions): () => void {
  let done = false;
  return () => {
    if (done || !options.metrics) return;
    done = true;
    options.metrics.commandAck.observe(Math.max(0, Date.now() - interaction.createdTimestamp) / 1000);
  };
}

/**
 * The subcommand as a metric label: only paths this bot offers (`create reminder`, `list`), so a forged
 * interaction's made-up names cannot grow the label set.
 */
function subcommandLabel(interaction: ChatInputCommandInteraction, options: RouterOptions): string {
  const module = moduleFor(interaction, options);
  if (!module) return 'unknown';
  const group = interaction.options.getSubcommandGroup(false);
  if (group === null) return interaction.options.getSubcommand(false) ?? 'unknown';
  // A group's subcommands are handler kinds (`create <kind>`).
  const kind = interaction.options.getSubcommand(false);
  return kind !== null && options.ctx.registry.get(kind) ? `${group} ${kind}` : `${group} (unknown)`;
}

/**
 * The sentence for a command that threw: a TaskError's own; for a database fault (whichever layer it came
 * from), what happened and who can fix it; for anything else, the generic apology. Faults and bugs are logged.
 */
function failureReply(
  options: RouterOptions,
  interaction: ChatInputCommandInteraction | MessageComponentInteraction,
  error: unknown,
): string {
  if (error instanceof TaskError) return error.message;
  const fault = databaseFaultSentence(error);
  if (fault !== undefined) {
    logFailure(options, interaction, error, 'command hit a database fault', {
      fault: databaseFaultOf(error),
      code: sqliteCodeOf(error),
    });
    return fault;
  }
  logFailure(options, interaction, error);
  return SOMETHING_WENT_WRONG;
}

async function runCommand(
  interaction: ChatInputCommandInteraction,
  options: RouterOptions,
): Promise<{ content: CommandReply; outcome: CommandOutcome }> {
  if (interaction.inCachedGuild()) removePlantedChannels(interaction);
  const refused = refusal(interaction);
  // Not allowed here is "denied"; a server the bot cannot see yet is a refusal to try again.
  if (refused) return { content: refused, outcome: refused === SERVER_NOT_READY ? 'refused' : 'denied' };
  const module = moduleFor(interaction, options);
  if (!module || !interaction.inCachedGuild()) {
    return {
      content:
        'That `/task` subcommand is not available any more; Discord may still be updating its command list.',
      outcome: 'refused',
    };
  }
  return { content: await module.execute(interaction, options.ctx), outcome: 'ok' };
}

/**
 * discord.js files every channel an interaction names under the interaction's server, even another
 * server's (which only a forged interaction can name): take it back out, so that nothing reading this
 * server's channels later (a counter's {channels}, a task's channel) finds it there.
 */
function removePlantedChannels(interaction: ChatInputCommandInteraction<'cached'>): void {
  const { guild } = interaction;
  for (const id of interaction.options.resolved?.channels?.keys() ?? []) {
    const planted = guild.channels.cache.get(id);
    if (planted && (planted.guild.id !== guild.id || planted.guildId !== guild.id)) {
      guild.channels.cache.delete(id);
    }
  }
}

function send(interaction: ChatInputCommandInteraction, reply: CommandReply): Promise<unknown> {
  const message = {
    ...(typeof reply === 'string' ? { content: reply } : reply),
    allowedMentions: { parse: [] },
  };
  if (interaction.deferred || interaction.replied) return interaction.editReply(message);
  return interaction.reply({ ...message, flags: MessageFlags.Ephemeral });
}

/**
 * Answers a click on a button of one of /task's replies: the same guard as commands, then the owning
 * subcommand's `component` handler; deferred (the message kept as it is) when the handler is slow.
 */
async function answerComponent(
  interaction: MessageComponentInteraction,
  options: RouterOptions,
): Promise<void> {
  let deferral: Promise<unknown> | undefined;
  const timer = setTimeout(() => {
    deferral = interaction
      .deferUpdate()
      .catch((error) => logFailure(options, interaction, error, 'could not defer the update'));
  }, options.deferAfterMs ?? DEFAULT_DEFER_AFTER_MS);
  let answer: ComponentReply;
  try {
    answer = await runComponent(interaction, options);
  } catch (error) {
    answer = { reply: failureReply(options, interaction, error) };
  } finally {
    clearTimeout(timer);
  }
  await deferral;
  try {
    await sendComponentAnswer(interaction, answer);
  } catch (error) {
    logFailure(options, interaction, error, 'could not send the reply');
    if (!('reply' in answer && answer.reply === SOMETHING_WENT_WRONG)) {
      await sendComponentAnswer(interaction, { reply: SOMETHING_WENT_WRONG });
    }
  }
}

async function runComponent(
  interaction: MessageComponentInteraction,
  options: RouterOptions,
): Promise<ComponentReply> {
  const refused = refusal(interaction);
  if (refused) return { reply: refused };
  const parsed = parseComponentId(options.commandName, interaction.customId);
  const module = parsed && options.subcommands.get(parsed.subcommand);
  if (!parsed || !module?.component || !interaction.inCachedGuild()) return { reply: STALE_COMPONENT };
  return module.component(interaction, parsed.args, options.ctx);
}

function sendComponentAnswer(
  interaction: MessageComponentInteraction,
  answer: ComponentReply,
): Promise<unknown> {
  const reply = 'update' in answer ? answer.update : answer.reply;
  const message = {
    ...(typeof reply === 'string' ? { content: reply } : reply),
    allowedMentions: { parse: [] },
  };
  if ('update' in answer) {
    // After deferUpdate, editing the reply edits the message that holds the button.
    return interaction.deferred ? interaction.editReply(message) : interaction.update(message);
  }
  const ephemeral = { ...message, flags: MessageFlags.Ephemeral } as const;
  return interaction.deferred || interaction.replied
    ? interaction.followUp(ephemeral)
    : interaction.reply(ephemeral);
}

async function answerAutocomplete(
  interaction: AutocompleteInteraction,
  options: RouterOptions,
): Promise<void> {
  let choices: Awaited<ReturnType<NonNullable<TaskSubcommand['autocomplete']>>> = [];
  try {
    const module = moduleFor(interaction, options);
    // A member who may not use /task learns nothing from it, not even task names.
    if (refusal(interaction) === undefined && module?.autocomplete && interaction.inCachedGuild()) {
      choices = await module.autocomplete(interaction, options.ctx);
    }
  } catch (error) {
    logFailure(options, interaction, error, 'autocomplete failed');
  }
  await interaction.respond(choices.slice(0, MAX_CHOICES));
}

function logFailure(
  options: RouterOptions,
  interaction: RoutedInteraction,
  error: unknown,
  message = 'command failed',
  extra: Record<string, unknown> = {},
): void {
  options.ctx.log.error(
    {
      ...extra,
      err: error,
      error: censorToken(error instanceof Error ? error.message : String(error)),
      interaction: interaction.id,
      guildId: interaction.guildId,
      userId: interaction.user.id,
      command: `/${options.commandName} ${pathOf(interaction, options.commandName)}`.trim(),
      ...(interaction.isMessageComponent() ? { customId: interaction.customId } : {}),
    },
    message,
  );
}
