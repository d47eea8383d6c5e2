// Reading a Parsed<T> (a value or a sentence) in tests: each helper fails the test on the other outcome.
import type { Parsed } from '../../src/discord/input.js';

/** The parsed value; throws with the sentence when parsing refused. */
export function value<T>(parsed: Parsed<T>): T {
  if (!parsed.ok) throw new Error(`expected a value, got: ${parsed.error}`);
  return parsed.value;
}

/** The refusal's sentence; throws when parsing succeeded. */
export function error(parsed: { ok: boolean; error?: string }): string {
  if (parsed.ok) throw new Error(`expected an error, got ${JSON.stringify(parsed)}`);
  return parsed.error ?? '';
}
