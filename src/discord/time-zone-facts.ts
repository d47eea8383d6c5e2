// What Node's ICU (CLDR) says about each time zone: its offset and abbreviation at an instant, and, built once,
// which zones use each abbreviation and offset in the year. The text people type is read in time-zones.ts.
import { currentZoneName } from '../db/zone-names.js';
import { offsetMs } from '../loop/index.js';
import { EXTRA_ABBREVIATIONS } from './time-zone-data.js';

let zoneNames: readonly string[] | undefined;

/** Every IANA zone this Node knows, under its current tz name, plus UTC (`supportedValuesOf` leaves it out). */
export function timeZoneNames(): readonly string[] {
  zoneNames ??= [...new Set(['UTC', ...Intl.supportedValuesOf('timeZone').map(currentZoneName)])];
  return zoneNames;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string, locale: string): Intl.DateTimeFormat {
  const key = `${locale} ${zone}`;
  let made = formatters.get(key);
  if (!made) {
    made = new Intl.DateTimeFormat(locale, {
      timeZone: zone,
      timeZoneName: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      hourCycle: 'h23',
    });
    formatters.set(key, made);
  }
  return made;
}

/**
 * CLDR gives English abbreviations per region (`CET` in en-GB, `EST` in en-CA, `AEST` in en-NZ) and prints
 * `GMT+1` elsewhere. One locale per area of the tz database (plus en-GB for north Africa's CET and EET)
 * keeps the one-time scan of ~420 zones near one formatter each; the few names only other English locales
 * give (India's IST, SGT, HKT) are in EXTRA_ABBREVIATIONS.
 */
function localesFor(zone: string): readonly string[] {
  switch (zone.slice(0, zone.indexOf('/'))) {
    case 'America':
      return ['en-CA'];
    case 'Africa':
      return ['en-ZA', 'en-GB'];
    case 'Australia':
    case 'Antarctica':
    case 'Pacific':
      return ['en-NZ'];
    default:
      return ['en-GB'];
  }
}

/** The zone's UTC offset in minutes at `atMs` (the loop engine's own offset arithmetic, cached per zone). */
export function offsetMinutes(zone: string, atMs: number): number {
  return Math.round(offsetMs(atMs, zone) / 60_000);
}

/** `GMT+1`, `UTC-5`: CLDR's fallback when it has no name, which is no abbreviation at all. */
const NUMERIC_NAME = /^(GMT|UTC)[+\-−]/;

/** The zone's abbreviation at `atMs` (`CET`, `EDT`, `JST`), or undefined when none is in common use. */
function abbreviationAt(zone: string, atMs: number): string | undefined {
  for (const locale of localesFor(zone)) {
    const name = formatter(zone, locale)
      .formatToParts(atMs)
      .find((part) => part.type === 'timeZoneName')?.value;
    if (name && !NUMERIC_NAME.test(name)) return name;
  }
  const daylight = isDaylightTime(zone, atMs);
  return EXTRA_ABBREVIATIONS.find(
    (entry) => entry.zones.includes(zone) && (entry.daylight ?? false) === daylight,
  )?.abbreviation;
}

function isDaylightTime(zone: string, atMs: number): boolean {
  const { january, july } = yearlyOffsets(zone, atMs);
  return offsetMinutes(zone, atMs) > Math.min(january, july);
}

function yearlyOffsets(zone: string, atMs: number): { january: number; july: number } {
  const year = new Date(atMs).getUTCFullYear();
  return {
    january: offsetMinutes(zone, Date.UTC(year, 0, 15)),
    july: offsetMinutes(zone, Date.UTC(year, 6, 15)),
  };
}

/** `UTC+1`, `UTC-3:30`, `UTC+0`. */
export function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const size = Math.abs(minutes);
  const rest = size % 60;
  return `UTC${sign}${Math.floor(size / 60)}${rest === 0 ? '' : `:${String(rest).padStart(2, '0')}`}`;
}

/** A fixed `Etc/GMT-2` zone's offset in minutes (the tz sign is inverted: Etc/GMT-2 is UTC+2). */
function fixedOffsetOf(zone: string): number | undefined {
  const match = /^Etc\/GMT([+-])(\d{1,2})$/.exec(zone);
  if (!match) return undefined;
  return (match[1] === '-' ? 60 : -60) * Number(match[2]);
}

/** How a zone is shown: `Europe/Paris (CET, UTC+1)`, `Etc/GMT-2 (fixed UTC+2, no daylight saving)`, `UTC`. */
export function describeTimeZone(zone: string, nowMs: number = Date.now()): string {
  if (zone === 'UTC') return 'UTC';
  const fixed = fixedOffsetOf(zone);
  if (fixed !== undefined) return `${zone} (fixed ${formatOffset(fixed)}, no daylight saving)`;
  const abbreviation = abbreviationAt(zone, nowMs);
  const offset = formatOffset(offsetMinutes(zone, nowMs));
  return `${zone} (${abbreviation ? `${abbreviation}, ` : ''}${offset})`;
}

export interface ZoneIndex {
  zonesByAbbreviation: Map<string, Set<string>>;
  /** Standard and summer offsets of every zone this year, for offset look-ups. */
  offsets: Map<string, { january: number; july: number }>;
}

let builtIndex: ZoneIndex | undefined;

/** Built once per process (0.2–0.5 s of ICU calls): every zone's abbreviations and offsets in the year. */
export function zoneIndex(nowMs: number): ZoneIndex {
  if (builtIndex) return builtIndex;
  const year = new Date(nowMs).getUTCFullYear();
  const instants = [Date.UTC(year, 0, 15), Date.UTC(year, 6, 15)];
  const zonesByAbbreviation = new Map<string, Set<string>>();
  const add = (abbreviation: string, zone: string) => {
    const key = abbreviation.toUpperCase();
    zonesByAbbreviation.set(key, (zonesByAbbreviation.get(key) ?? new Set()).add(zone));
  };
  const offsets = new Map<string, { january: number; july: number }>();
  for (const zone of timeZoneNames()) {
    offsets.set(zone, yearlyOffsets(zone, nowMs));
    for (const instant of instants) {
      const abbreviation = abbreviationAt(zone, instant);
      if (abbreviation) add(abbreviation, zone);
    }
  }
  for (const entry of EXTRA_ABBREVIATIONS) for (const zone of entry.zones) add(entry.abbreviation, zone);
  // GMT is also what people call UTC itself.
  add('GMT', 'UTC');
  builtIndex = { zonesByAbbreviation, offsets };
  return builtIndex;
}

/**
 * Builds the abbreviation and offset index now, e.g. at start-up, rather than when someone first types an
 * abbreviation or offset (it holds the event loop about 0.2–0.5 s, once per process).
 */
export function prepareTimeZones(nowMs: number = Date.now()): void {
  zoneIndex(nowMs);
}
