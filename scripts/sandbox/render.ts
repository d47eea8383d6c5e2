// Discord markup as a terminal shows it: timestamps as dates, mentions as names, no bold markers.
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
