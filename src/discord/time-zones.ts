// Time zones as admins type them: IANA names, cities, abbreviations (`CET`) and offsets (`UTC+2`), resolved
// to one IANA zone, or to the candidates to pick from when the text fits several; and the labelled choices
// autocomplete offers. What ICU knows of each zone (offsets, abbreviations) is in time-zone-facts.ts.
import { CURRENT_ZONE_NAMES, currentZoneName } from '../db/zone-names.js';
import { fail, ok, type Parsed, quote } from './input.js';
import { EXTRA_CITIES, LEGACY_ZONE_ABBREVIATIONS, MAJOR_ZONES } from './time-zone-data.js';
import {
  describeTimeZone,
  formatOffset,
  offsetMinutes,
  timeZoneNames,
  zoneIndex,
} from './time-zone-facts.js';

export { describeTimeZone, prepareTimeZones } from './time-zone-facts.js';

/** What a typed time zone means: one zone, several to choose from, or a sentence saying why none. */
export type ZoneResolution =
  | { kind: 'zone'; zone: string }
  | { kind: 'ambiguous'; by: 'abbreviation' | 'offset'; candidates: string[] }
  | { kind: 'refused'; error: string };

/** An autocomplete choice: `name` is what Discord shows (≤ 100 characters), `value` what the option gets. */
export interface ZoneChoice {
  name: string;
  value: string;
}

const MAX_CHOICE_LENGTH = 100;
/** The widest offsets in use: Baker Island (UTC-12) and Kiribati's Line Islands (UTC+14). */
const MIN_OFFSET_MINUTES = -12 * 60;
const MAX_OFFSET_MINUTES = 14 * 60;
const EXAMPLES = 'type a city like Paris, an IANA name like Europe/Paris, or pick a suggestion';

// ---------------------------------------------------------------- the catalogue of zones

let zoneByLowerName: Map<string, string> | undefined;
let zoneByCity: Map<string, string> | undefined;

function zoneNamed(lowerName: string): string | undefined {
  zoneByLowerName ??= new Map(
    [...timeZoneNames(), ...Object.keys(CURRENT_ZONE_NAMES)].map((zone) => [
      zone.toLowerCase(),
      currentZoneName(zone),
    ]),
  );
  return zoneByLowerName.get(lowerName);
}

/** `São Paulo`, `st. john's`, `Port-au-Prince`, `paris, france` → `sao paulo`, `st johns`, `port au prince`, `paris`. */
function cityKey(text: string): string {
  return text
    .split(',')[0]!
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[.'’]/g, '')
    .replace(/[\s_-]+/g, ' ')
    .trim();
}

const cityOf = (zone: string) => cityKey(zone.slice(zone.lastIndexOf('/') + 1));

let otherCityZones: readonly [string, string][] | undefined;

/**
 * Cities that are not the last part of a current IANA name, with their zones: EXTRA_CITIES (`munich`), then
 * the cities in the old names of renamed zones (`kiev`, `calcutta`, `saigon`). Built once: autocomplete
 * reads it on every keystroke.
 */
function otherCities(): readonly [string, string][] {
  otherCityZones ??= [
    ...Object.entries(EXTRA_CITIES),
    ...Object.entries(CURRENT_ZONE_NAMES)
      .map(([old, current]): [string, string] => [cityOf(old), current])
      .filter(([city, current]) => city !== cityOf(current)),
  ];
  return otherCityZones;
}

/** A city's zone: a current name's last part (`new york`), EXTRA_CITIES (`munich`), an old name (`kiev`). */
function cityZone(text: string): string | undefined {
  // No two IANA names share a last part, so a city names one zone.
  zoneByCity ??= new Map([
    ...timeZoneNames().map((zone): [string, string] => [cityOf(zone), zone]),
    ...otherCities(),
  ]);
  return zoneByCity.get(cityKey(text));
}

const majorRank = new Map(MAJOR_ZONES.map((zone, at) => [zone, at]));

/** Most-used zones first (MAJOR_ZONES order), then the rest alphabetically. */
function byImportance(a: string, b: string): number {
  const rank = (zone: string) => majorRank.get(zone) ?? MAJOR_ZONES.length;
  return rank(a) - rank(b) || a.localeCompare(b);
}

const OFFSET_PATTERN = /^(?:(?:utc|gmt|z)\s*)?([+\-−])\s*(\d{1,2})(?:[:h]?\s*(\d{2}))?$/i;

function resolveOffset(text: string, nowMs: number): ZoneResolution | undefined {
  const match = OFFSET_PATTERN.exec(text);
  if (!match) return undefined;
  const [, sign, hoursText, minutesText] = match;
  const minutesPart = Number(minutesText ?? 0);
  const total = (sign === '+' ? 1 : -1) * (Number(hoursText) * 60 + minutesPart);
  if (minutesPart > 59 || total < MIN_OFFSET_MINUTES || total > MAX_OFFSET_MINUTES) {
    return {
      kind: 'refused',
      error: `"${quote(text)}" is not a UTC offset in use: offsets run from UTC-12 to UTC+14.`,
    };
  }
  const { offsets } = zoneIndex(nowMs);
  const zones = [...offsets]
    .filter(([, { january, july }]) => january === total || july === total)
    .map(([zone]) => zone);
  const notNow = new Map(zones.map((zone) => [zone, offsetMinutes(zone, nowMs) === total ? 0 : 1]));
  zones.sort((a, b) => notNow.get(a)! - notNow.get(b)! || byImportance(a, b));
  if (total === 0) zones.unshift('UTC');
  else if (total % 60 === 0) zones.push(`Etc/GMT${total > 0 ? '-' : '+'}${Math.abs(total) / 60}`);
  const candidates = [...new Set(zones)];
  if (candidates.length === 0) {
    return {
      kind: 'refused',
      error: `No time zone is at ${formatOffset(total)}: check the offset, or type your city instead.`,
    };
  }
  return candidates.length === 1
    ? { kind: 'zone', zone: candidates[0]! }
    : { kind: 'ambiguous', by: 'offset', candidates };
}

function resolveAbbreviation(abbreviation: string, nowMs: number): ZoneResolution | undefined {
  if (!/^[a-z]{2,5}$/i.test(abbreviation)) return undefined;
  const zones = zoneIndex(nowMs).zonesByAbbreviation.get(abbreviation.toUpperCase());
  if (!zones) return undefined;
  const candidates = [...zones].sort(byImportance);
  return candidates.length === 1
    ? { kind: 'zone', zone: candidates[0]! }
    : { kind: 'ambiguous', by: 'abbreviation', candidates };
}

/** A tz alias Node knows beyond its list (`US/Eastern`, `Zulu`, `Etc/GMT-2`), in its current spelling. */
function resolveAlias(text: string): string | undefined {
  if (!/^[a-z][\w+\-/]*$/i.test(text)) return undefined;
  try {
    return currentZoneName(new Intl.DateTimeFormat('en-US', { timeZone: text }).resolvedOptions().timeZone);
  } catch {
    return undefined;
  }
}

/**
 * What `input` names: an IANA zone (any case), a city (`new york`, `são paulo`, `munich`), an abbreviation
 * (`CET`, `JST`) or an offset (`UTC+2`, `+05:30`). An abbreviation or offset several zones share is
 * `ambiguous`, never turned into a fixed offset; only a typed `Etc/GMT-2` gives one.
 */
export function resolveTimeZone(input: string, nowMs: number = Date.now()): ZoneResolution {
  const text = input.trim();
  if (text === '') return { kind: 'refused', error: `Give a time zone: ${EXAMPLES}.` };
  const byOffset = resolveOffset(text, nowMs);
  if (byOffset) return byOffset;
  // Names and cities first: they need no scan of every zone, which only abbreviations do.
  const legacy = LEGACY_ZONE_ABBREVIATIONS[text.toLowerCase()];
  const known = legacy ? undefined : (zoneNamed(text.replace(/\s+/g, '_').toLowerCase()) ?? cityZone(text));
  if (known) return { kind: 'zone', zone: known };
  const byAbbreviation = resolveAbbreviation(legacy ?? text, nowMs);
  if (byAbbreviation) return byAbbreviation;
  const alias = resolveAlias(text);
  if (alias) return { kind: 'zone', zone: alias };
  return { kind: 'refused', error: `"${quote(input)}" is not a time zone I know: ${EXAMPLES}.` };
}

/** A few candidates for a sentence: `Europe/Paris, Europe/Berlin, Europe/Madrid, …`. */
function someOf(candidates: readonly string[], shown = 3): string {
  return candidates.slice(0, shown).join(', ') + (candidates.length > shown ? ', …' : '');
}

/** `input` as one IANA zone, or the sentence saying why not (listing candidates when it fits several). */
export function parseTimeZone(input: string, nowMs: number = Date.now()): Parsed<string> {
  const resolved = resolveTimeZone(input, nowMs);
  if (resolved.kind === 'zone') return ok(resolved.zone);
  if (resolved.kind === 'refused') return fail(resolved.error);
  const used = resolved.by === 'offset' ? 'is the UTC offset of' : 'is used by';
  return fail(
    `"${quote(input)}" ${used} several time zones (${someOf(resolved.candidates)}): ` +
      'pick one from the suggestions, or type your city.',
  );
}

// ---------------------------------------------------------------- autocomplete

interface NameMatch {
  zone: string;
  /** The city from EXTRA_CITIES or an old name that matched, when the zone's own name did not. */
  city?: string;
}

/**
 * Zones whose names match the text, best first: the city itself ("paris" → Europe/Paris), then cities
 * starting with it, then any part of the name starting with it, then any name containing it.
 */
function matchNames(query: string): NameMatch[] {
  const needle = query.trim().toLowerCase().replace(/\s+/g, '_');
  const city = cityKey(query);
  if (needle === '') return [];
  const rank = ({ lower, segments, last, lastAsCity }: SearchableZone): number => {
    const asCity = city !== '';
    if (last === needle || lower === needle || (asCity && lastAsCity === city)) return 0;
    if (last.startsWith(needle) || lower.startsWith(needle) || (asCity && lastAsCity.startsWith(city)))
      return 1;
    if (segments.some((segment) => segment.startsWith(needle))) return 2;
    return lower.includes(needle) ? 3 : 4;
  };
  const zones: (NameMatch & { rank: number })[] = searchableZones()
    .map((entry) => ({ zone: entry.zone, rank: rank(entry) }))
    .filter((entry) => entry.rank < 4);
  const cities = otherCities()
    .filter(([name]) => city !== '' && name.startsWith(city))
    .map(([name, zone]) => ({ zone, city: name, rank: name === city ? 0 : 1 }));
  return [...zones, ...cities]
    .sort((a, b) => a.rank - b.rank || byImportance(a.zone, b.zone))
    .map(({ rank: _rank, ...match }) => match);
}

interface SearchableZone {
  zone: string;
  lower: string;
  segments: string[];
  last: string;
  lastAsCity: string;
}

let searchable: SearchableZone[] | undefined;

/** Every zone's name cut up once for matching what is typed, key stroke after key stroke. */
function searchableZones(): SearchableZone[] {
  searchable ??= [...timeZoneNames(), ...fixedZones()].map((zone) => {
    const lower = zone.toLowerCase();
    const segments = lower.split('/');
    const last = segments[segments.length - 1]!;
    return { zone, lower, segments, last, lastAsCity: cityKey(last) };
  });
  return searchable;
}

let fixedZoneNames: readonly string[] | undefined;

/** `Etc/GMT-14` … `Etc/GMT+12`: found by name only, for whoever wants a fixed offset knowingly. */
function fixedZones(): readonly string[] {
  fixedZoneNames ??= Array.from({ length: 27 }, (_, at) => at - 14)
    .filter((hours) => hours !== 0)
    .map((hours) => `Etc/GMT${hours < 0 ? '' : '+'}${hours}`);
  return fixedZoneNames;
}

const titleCase = (text: string) => text.replace(/\b\p{L}/gu, (letter) => letter.toUpperCase());

function choice(zone: string, nowMs: number, city?: string): ZoneChoice {
  const label = describeTimeZone(zone, nowMs);
  return { name: (city ? `${titleCase(city)}: ${label}` : label).slice(0, MAX_CHOICE_LENGTH), value: zone };
}

/**
 * The `timezone` autocomplete: the zone the text names, then other matches; every candidate of an
 * abbreviation or offset; the most-used zones when nothing is typed; or one choice saying why nothing fits.
 * Each is labelled with the zone's abbreviation and offset now; its value is the IANA name.
 */
export function timeZoneChoices(typed: string, nowMs: number = Date.now(), limit = 25): ZoneChoice[] {
  if (typed.trim() === '') return MAJOR_ZONES.slice(0, limit).map((zone) => choice(zone, nowMs));
  const resolved = resolveTimeZone(typed, nowMs);
  if (resolved.kind === 'ambiguous') {
    return resolved.candidates.slice(0, limit).map((zone) => choice(zone, nowMs));
  }
  const matches: NameMatch[] = resolved.kind === 'zone' ? [{ zone: resolved.zone }] : [];
  for (const match of matchNames(typed)) {
    if (!matches.some((seen) => seen.zone === match.zone)) matches.push(match);
  }
  if (matches.length === 0 && resolved.kind === 'refused') {
    // Discord cuts names at 100 characters: a long refusal is said shorter rather than cut mid-word.
    const why =
      resolved.error.length <= MAX_CHOICE_LENGTH
        ? resolved.error
        : `"${quote(typed, 20)}" is not a time zone I know: try a city like Paris.`;
    return [{ name: why, value: typed.trim().slice(0, MAX_CHOICE_LENGTH) }];
  }
  return matches.slice(0, limit).map((match) => choice(match.zone, nowMs, match.city));
}
