// `press next` in the sandbox: clicks a button on the bot's newest reply that has one, as the demo admin, and
// prints the answer (the reply edited in place, or a new reply).
import { type APIMessage, ComponentType, MessageFlags } from 'discord-api-types/v10';
import { controlsOf } from '../../emulator/components.js';
import { type Emulator, InvocationError } from '../../emulator/index.js';
import { clock, renderMessage } from './render.js';

/** How a typed label is compared with a button's: letters and digits only, lower case (`next` for `Next ▶`). */
const plain = (label: string): string =>
  label
    .toLowerCase()
    .replace(/[^\p{L}\p{N} ]/gu, '')
    .trim();

/** The newest interaction reply `user` can see with a button labelled like `label`. */
function findButton(
  emulator: Emulator,
  user: string,
  label: string,
): { message: APIMessage; customId: string; disabled: boolean } | undefined {
  const { world } = emulator;
  const wanted = plain(label);
  const events = emulator.interactions.events.entries;
  const seen = new Set<string>();
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i]!;
    if (event.kind === 'callback' || seen.has(event.message.id)) continue;
    seen.add(event.message.id);
    let message: APIMessage;
    try {
      message = world.message(event.message.id).message;
    } catch {
      continue; // deleted since
    }
    const ephemeral = ((message.flags ?? 0) & MessageFlags.Ephemeral) !== 0;
    if (ephemeral && message.interaction_metadata?.user.id !== user) continue;
    const button = controlsOf(message.components ?? []).find(
      (c) =>
        c.type === ComponentType.Button &&
        c.custom_id !== undefined &&
        plain(c.label ?? '').startsWith(wanted),
    );
    if (button) return { message, customId: button.custom_id!, disabled: button.disabled === true };
  }
  return undefined;
}

/** Presses the button and prints what the bot answered; resolves true if it answered. */
export async function pressButton(
  emulator: Emulator,
  user: string,
  label: string,
  print: (line: string) => void,
): Promise<boolean> {
  const stamp = `[${clock()}]`;
  if (plain(label) === '') {
    print(`${stamp} ✗ Say which button: press next, press previous.`);
    return false;
  }
  const found = findButton(emulator, user, label);
  if (!found) {
    print(`${stamp} ✗ No reply of the bot's has a "${label.trim()}" button.`);
    return false;
  }
  if (found.disabled) {
    print(`${stamp} ✗ That button is disabled.`);
    return false;
  }
  try {
    const handle = emulator.invokeComponent({ user, message: found.message.id, customId: found.customId });
    const answer = await handle.waitForReply(undefined, { timeoutMs: 6_000 });
    print(`[${clock()}] (only you) ${renderMessage(answer, emulator.world)}`);
    return true;
  } catch (error) {
    const why =
      error instanceof InvocationError ? `Discord would refuse that: ${error.message}` : String(error);
    print(`[${clock()}] ✗ ${why}`);
    return false;
  }
}
