// Parsing of what admins type into slash-command options (durations, timeouts; schedules are in
// schedule-input.ts, time zones in time-zones.ts). Each parser returns either a value or one sentence the
// bot can show as-is; none of them throws on user input.
import { MAX_TIMEOUT_MS } from '../tasks/index.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

const UNIT_SECONDS: Record<string, number> = { d: 86_400, h: 3_600, m: 60, s: 1 };
const DURATION_PATTERN = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** `90s`, `15m`, `1h30m`, `2d` → seconds, or undefined when the text is not a duration. */
export function durationSeconds(input: string): number | undefined {
  const text = input.trim().toLowerCase().replace(/\s+/g, '');
  const match = DURATION_PATTERN.exec(text);
  if (text === '' || !match) return undefined;
  const [, d, h, m, s] = match;
  return [d, h, m, s].reduce(
    (sum, part, index) => sum + (part ? Number(part) * UNIT_SECONDS['dhms'[index] as string]! : 0),
    0,
  );
}

/** The longest a run may take: the task runtime's own limit. */
const MAX_TIMEOUT_SECONDS = MAX_TIMEOUT_MS / 1000;

/** A run's time limit, written like `every` (`30s`, `5m`, `1m30s`) → seconds, from 1 s to 15 min. */
export function parseTimeout(input: string): Parsed<number> {
  const seconds = durationSeconds(input);
  if (seconds === undefined) {
    return fail(`"${quote(input)}" is not a duration: write the timeout like 30s, 5m or 1m30s.`);
  }
  if (seconds < 1) return fail('A timeout must be at least 1 second.');
  if (seconds > MAX_TIMEOUT_SECONDS) {
    return fail(`"${quote(input)}" is too long: a run may take at most 15 minutes (15m).`);
  }
  return ok(seconds);
}

/** Seconds → the shortest `every` spelling (`5400` → `1h30m`), for showing a schedule back. */
export function formatEvery(totalSeconds: number): string {
  let rest = Math.round(totalSeconds);
  let text = '';
  for (const [unit, size] of Object.entries(UNIT_SECONDS)) {
    const amount = Math.floor(rest / size);
    if (amount > 0) text += `${amount}${unit}`;
    rest -= amount * size;
  }
  return text || '0s';
}

/** Quotes user text inside a reply, shortened and on one line, so a huge string cannot flood it. */
export function quote(text: string, max = 40): string {
  const single = text.replace(/\s+/g, ' ').trim();
  return single.length > max ? `${single.slice(0, max - 1)}…` : single;
}
