// Time zones as admins type them into slash-command options, and the autocomplete suggestions for them.
import { fail, ok, type Parsed, quote } from './input.js';

let zoneNames: readonly string[] | undefined;

/** Every IANA zone this Node knows, plus UTC (which `Intl.supportedValuesOf` leaves out). */
function timeZoneNames(): readonly string[] {
  zoneNames ??= ['UTC', ...Intl.supportedValuesOf('timeZone').filter((zone) => zone !== 'UTC')];
  return zoneNames;
}

/** An IANA name, matched case-insensitively and returned in its canonical spelling. */
export function parseTimeZone(input: string): Parsed<string> {
  const wanted = input.trim();
  const known = timeZoneNames().find((zone) => zone.toLowerCase() === wanted.toLowerCase());
  if (known) return ok(known);
  try {
    // Aliases such as "US/Eastern" are valid IANA names that supportedValuesOf does not list.
    return ok(new Intl.DateTimeFormat('en-US', { timeZone: wanted }).resolvedOptions().timeZone);
  } catch {
    return fail(
      `"${quote(input)}" is not a time zone I know: pick an IANA name such as Europe/Paris or America/New_York.`,
    );
  }
}

/**
 * Up to 25 zones for autocomplete, best first: the city itself ("paris" → Europe/Paris), then cities
 * starting with the text, then any part of the name starting with it, then any zone containing it.
 */
export function suggestTimeZones(query: string, limit = 25): string[] {
  const needle = query.trim().toLowerCase().replace(/\s+/g, '_');
  if (needle === '') return timeZoneNames().slice(0, limit);
  const rank = (zone: string): number => {
    const lower = zone.toLowerCase();
    const segments = lower.split('/');
    const city = segments[segments.length - 1]!;
    if (city === needle || lower === needle) return 0;
    if (city.startsWith(needle) || lower.startsWith(needle)) return 1;
    if (segments.some((segment) => segment.startsWith(needle))) return 2;
    return lower.includes(needle) ? 3 : 4;
  };
  return timeZoneNames()
    .map((zone) => ({ zone, rank: rank(zone) }))
    .filter((entry) => entry.rank < 4)
    .sort((a, b) => a.rank - b.rank)
    .slice(0, limit)
    .map((entry) => entry.zone);
}
