// Discord markup as a terminal shows it: timestamps as dates, mentions as names, no bold markers, and a
// message's buttons as a row of [labels].
import { ComponentType } from 'discord-api-types/v10';
import { controlsOf } from '../../emulator/components.js';
import type { World } from '../../emulator/index.js';

export function clock(at: Date = new Date()): string {
  return at.toTimeString().slice(0, 8);
}

function relativeText(ms: number, nowMs: number): string {
  const seconds = Math.round((ms - nowMs) / 1000);
  // Timestamps are whole seconds, so anything within a second or so of now reads as now.
  if (Math.abs(seconds) <= 1) return 'now';
  const size = Math.abs(seconds);
  const text =
    size < 90
      ? `${size}s`
      : size < 5400
        ? `${Math.round(size / 60)}m`
        : size < 129_600
          ? `${Math.round(size / 3600)}h`
          : `${Math.round(size / 86_400)}d`;
  return seconds > 0 ? `in ${text}` : `${text} ago`;
}

export function render(text: string, world: World, nowMs = Date.now()): string {
  const name = (lookup: () => string, fallback: string) => {
    try {
      return lookup();
    } catch {
      return fallback;
    }
  };
  return text
    .replace(/<t:(\d+):R>/g, (_, s: string) => relativeText(Number(s) * 1000, nowMs))
    .replace(/<t:(\d+):[a-zA-Z]>/g, (_, s: string) => new Date(Number(s) * 1000).toLocaleString('en-GB'))
    .replace(/<#(\d+)>/g, (_, id: string) => `#${name(() => world.channel(id).name, id)}`)
    .replace(/<@&(\d+)>/g, (_, id: string) => `@${name(() => world.role(id).name, id)}`)
    .replace(/<@!?(\d+)>/g, (_, id: string) => `@${name(() => world.user(id).username, id)}`)
    .replace(/\*\*/g, '');
}

/**
 * A message's buttons and selects on one line: `[◀ Previous] [Next ▶]`, a disabled one in parentheses
 * (`(◀ Previous)`); empty when it has none.
 */
export function renderControls(components: readonly unknown[] | undefined): string {
  return controlsOf(components ?? [])
    .map((control) => {
      const label =
        control.type === ComponentType.Button ? (control.label ?? control.custom_id ?? 'button') : '▾ select';
      return control.disabled ? `(${label})` : `[${label}]`;
    })
    .join(' ');
}

/** A message as the terminal shows it: its text, then its buttons on the next line. */
export function renderMessage(
  message: { content: string; components?: readonly unknown[] },
  world: World,
  nowMs = Date.now(),
): string {
  const controls = renderControls(message.components);
  const text = render(message.content, world, nowMs);
  return controls === '' ? text : `${text}\n${controls}`;
}
