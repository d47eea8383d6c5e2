import { describe, expect, it, vi } from 'vitest';
import { CURRENT_ZONE_NAMES } from '../../src/db/index.js';
import { EXTRA_ABBREVIATIONS, EXTRA_CITIES, MAJOR_ZONES } from '../../src/discord/time-zone-data.js';
import { timeZoneNames } from '../../src/discord/time-zone-facts.js';
import {
  describeTimeZone,
  parseTimeZone,
  resolveTimeZone,
  timeZoneChoices,
} from '../../src/discord/time-zones.js';
import { error, value } from '../support/parsed.js';

// Fixed instants, so offsets and abbreviations are those of a known season.
const WINTER = Date.UTC(2026, 11, 1, 13, 0);
const SUMMER = Date.UTC(2026, 6, 1, 13, 0);

const zone = (input: string, nowMs = WINTER) => value(parseTimeZone(input, nowMs));
const candidates = (input: string, nowMs = WINTER): string[] => {
  const resolved = resolveTimeZone(input, nowMs);
  if (resolved.kind !== 'ambiguous') throw new Error(`expected candidates, got ${JSON.stringify(resolved)}`);
  return resolved.candidates;
};

describe('IANA names', () => {
  it('accepts them in any case, in their current spelling', () => {
    expect(zone('europe/paris')).toBe('Europe/Paris');
    expect(zone('UTC')).toBe('UTC');
    expect(zone('Australia/Lord_Howe')).toBe('Australia/Lord_Howe');
    expect(zone('America/New York')).toBe('America/New_York');
    // ICU's older spellings and tz links come back under the tz database's current name.
    expect(zone('Asia/Calcutta')).toBe('Asia/Kolkata');
    expect(zone('asia/kolkata')).toBe('Asia/Kolkata');
    expect(zone('Europe/Kiev')).toBe('Europe/Kyiv');
    expect(zone('US/Eastern')).toBe('America/New_York');
    expect(zone('America/Montreal')).toBe('America/Toronto');
    for (const utc of ['Etc/UTC', 'Zulu', 'Etc/GMT+0', 'utc']) expect(zone(utc)).toBe('UTC');
  });

  it('accepts a fixed Etc/ zone typed knowingly, and says what it is', () => {
    expect(zone('Etc/GMT-2')).toBe('Etc/GMT-2');
    expect(zone('etc/gmt+5')).toBe('Etc/GMT+5');
    expect(describeTimeZone('Etc/GMT-2', WINTER)).toBe('Etc/GMT-2 (fixed UTC+2, no daylight saving)');
    expect(describeTimeZone('Etc/GMT+5', WINTER)).toBe('Etc/GMT+5 (fixed UTC-5, no daylight saving)');
  });

  it('refuses unknown zones with an example', () => {
    expect(error(parseTimeZone('Mars/Olympus', WINTER))).toMatch(/not a time zone.*Europe\/Paris/);
    expect(error(parseTimeZone('Etc/GMT-15', WINTER))).toMatch(/not a time zone/);
  });
});

describe('cities', () => {
  it.each([
    ['paris', 'Europe/Paris'],
    ['new york', 'America/New_York'],
    ['  TOKYO ', 'Asia/Tokyo'],
    ['sao paulo', 'America/Sao_Paulo'],
    ['São Paulo', 'America/Sao_Paulo'],
    ['Paris, France', 'Europe/Paris'],
    ["st. john's", 'America/St_Johns'],
    ['port-au-prince', 'America/Port-au-Prince'],
    ['kyiv', 'Europe/Kyiv'],
    ['buenos aires', 'America/Argentina/Buenos_Aires'],
    ['san francisco', 'America/Los_Angeles'],
    ['Boston', 'America/New_York'],
    ['munich', 'Europe/Berlin'],
    ['mumbai', 'Asia/Kolkata'],
    ['beijing', 'Asia/Shanghai'],
    // Old names of renamed zones are still the city people mean.
    ['kiev', 'Europe/Kyiv'],
    ['Calcutta', 'Asia/Kolkata'],
    ['saigon', 'Asia/Ho_Chi_Minh'],
    ['rangoon', 'Asia/Yangon'],
    ['katmandu', 'Asia/Kathmandu'],
    ['godthab', 'America/Nuuk'],
    ['faeroe', 'Atlantic/Faroe'],
    ['coral harbour', 'America/Atikokan'],
  ])('%j is %s', (input, expected) => {
    expect(zone(input)).toBe(expected);
  });
});

describe('abbreviations', () => {
  it('resolve when only one zone uses them', () => {
    expect(zone('JST')).toBe('Asia/Tokyo');
    expect(zone('bst')).toBe('Europe/London');
    expect(zone('HST')).toBe('Pacific/Honolulu');
  });

  it('that several zones use are candidates, most-used first, never a fixed zone', () => {
    const cet = candidates('CET');
    expect(cet.slice(0, 3)).toEqual(['Europe/Paris', 'Europe/Berlin', 'Europe/Madrid']);
    expect(cet).toContain('Europe/Oslo');
    expect(cet.some((name) => name.startsWith('Etc/') || name === 'CET')).toBe(false);
    expect(candidates('EST')[0]).toBe('America/New_York');
    expect(candidates('pst')).toEqual(expect.arrayContaining(['America/Los_Angeles', 'Asia/Manila']));
    expect(candidates('IST')).toEqual(
      expect.arrayContaining(['Asia/Kolkata', 'Europe/Dublin', 'Asia/Jerusalem']),
    );
    expect(candidates('AEST').slice(0, 2)).toEqual(['Australia/Sydney', 'Australia/Melbourne']);
    expect(candidates('MSK')[0]).toBe('Europe/Moscow');
    expect(candidates('GMT').slice(0, 2)).toEqual(['UTC', 'Europe/London']);
  });

  it.each(['CET', 'EET', 'WET', 'MET', 'EST', 'MST', 'HST', 'EST5EDT', 'CST6CDT', 'MST7MDT', 'PST8PDT'])(
    'treats the tz database legacy zone %s as an abbreviation',
    (legacy) => {
      const parsed = parseTimeZone(legacy, WINTER);
      if (parsed.ok) {
        expect(parsed.value).not.toBe(legacy);
        expect(parsed.value).toContain('/');
      } else {
        expect(parsed.error).toMatch(/several time zones \(.+\): pick one from the suggestions/);
      }
    },
  );

  it('refuses an ambiguous one with a sentence naming a few candidates', () => {
    expect(error(parseTimeZone('CET', WINTER))).toBe(
      '"CET" is used by several time zones (Europe/Paris, Europe/Berlin, Europe/Madrid, …): ' +
        'pick one from the suggestions, or type your city.',
    );
  });
});

describe('offsets', () => {
  it('list the zones at that offset, those at it now first, the fixed Etc zone last', () => {
    const plusTwo = candidates('UTC+2');
    expect(plusTwo[0]).toBe('Africa/Cairo');
    expect(plusTwo).toEqual(expect.arrayContaining(['Europe/Athens', 'Africa/Johannesburg', 'Europe/Paris']));
    // Paris is at UTC+2 in summer only: after the zones that are at UTC+2 today.
    expect(plusTwo.indexOf('Europe/Paris')).toBeGreaterThan(plusTwo.indexOf('Europe/Athens'));
    expect(plusTwo.at(-1)).toBe('Etc/GMT-2');
    expect(candidates('GMT-5')).toEqual(expect.arrayContaining(['America/New_York', 'America/Bogota']));
    expect(candidates('GMT-5').at(-1)).toBe('Etc/GMT+5');
    expect(candidates('GMT+14')).toEqual(['Pacific/Kiritimati', 'Etc/GMT-14']);
  });

  it('follow the season: in July UTC+1 is London and Lagos, in December Paris', () => {
    expect(candidates('UTC+1', SUMMER).slice(0, 2)).toEqual(['Europe/London', 'Africa/Lagos']);
    expect(candidates('UTC+1', WINTER)[0]).toBe('Europe/Paris');
  });

  it.each(['+05:30', 'utc+5:30', 'UTC +0530', 'gmt+05:30'])('reads %j as UTC+5:30', (input) => {
    expect(candidates(input)).toEqual(['Asia/Kolkata', 'Asia/Colombo']);
  });

  it.each(['UTC−5', 'utc -5', 'GMT-05:00', '-5'])('reads %j as UTC-5', (input) => {
    expect(candidates(input)[0]).toBe('America/New_York');
  });

  it('resolve when one zone is at that offset', () => {
    expect(zone('+05:45')).toBe('Asia/Kathmandu');
    // Nobody lives at UTC-12 (Baker Island): the fixed zone is the only one, so there is nothing to pick.
    expect(zone('UTC-12')).toBe('Etc/GMT+12');
  });

  it('refuse offsets out of range or unused, saying why', () => {
    expect(error(parseTimeZone('UTC+25', WINTER))).toBe(
      '"UTC+25" is not a UTC offset in use: offsets run from UTC-12 to UTC+14.',
    );
    expect(error(parseTimeZone('UTC-13', WINTER))).toMatch(/offsets run from UTC-12 to UTC\+14/);
    expect(error(parseTimeZone('+05:99', WINTER))).toMatch(/not a UTC offset/);
    expect(error(parseTimeZone('+03:15', WINTER))).toBe(
      'No time zone is at UTC+3:15: check the offset, or type your city instead.',
    );
    expect(error(parseTimeZone('UTC+2', WINTER))).toMatch(
      /^"UTC\+2" is the UTC offset of several time zones \(Africa\/Cairo, .*\): pick one from the suggestions/,
    );
  });
});

describe('bad input', () => {
  it.each([
    '',
    '   ',
    'zzzz',
    '💥',
    '../../etc/passwd',
    'Europe/',
    '/',
    "'; DROP TABLE tasks; --",
    'paris\nlondon',
    'UTC+',
    '+',
    'UTC2',
    'GMT+1+2',
  ])('refuses %j with one short sentence', (input) => {
    const sentence = error(parseTimeZone(input, WINTER));
    expect(sentence).not.toContain('\n');
    expect(sentence.length).toBeLessThan(200);
    expect(sentence).toMatch(/time zone|offset/);
  });

  it('quotes a 10,000-character input shortened', () => {
    const sentence = error(parseTimeZone('x'.repeat(10_000), WINTER));
    expect(sentence.length).toBeLessThan(200);
    expect(sentence).toMatch(/^"x+…" is not a time zone I know/);
  });
});

describe('describeTimeZone', () => {
  it.each([
    ['Europe/Paris', WINTER, 'Europe/Paris (CET, UTC+1)'],
    ['Europe/Paris', SUMMER, 'Europe/Paris (CEST, UTC+2)'],
    ['America/New_York', WINTER, 'America/New_York (EST, UTC-5)'],
    ['America/New_York', SUMMER, 'America/New_York (EDT, UTC-4)'],
    ['Australia/Sydney', WINTER, 'Australia/Sydney (AEDT, UTC+11)'],
    ['Asia/Kolkata', WINTER, 'Asia/Kolkata (IST, UTC+5:30)'],
    ['Asia/Tokyo', WINTER, 'Asia/Tokyo (JST, UTC+9)'],
    ['Asia/Jerusalem', SUMMER, 'Asia/Jerusalem (IDT, UTC+3)'],
    ['Europe/Dublin', SUMMER, 'Europe/Dublin (IST, UTC+1)'],
    ['Asia/Kathmandu', WINTER, 'Asia/Kathmandu (UTC+5:45)'],
    ['America/St_Johns', WINTER, 'America/St_Johns (NST, UTC-3:30)'],
    ['UTC', WINTER, 'UTC'],
  ])('%s at %i is %j', (name, nowMs, expected) => {
    expect(describeTimeZone(name, nowMs)).toBe(expected);
  });
});

describe('autocomplete choices', () => {
  it('offer the most-used zones, labelled, when nothing is typed', () => {
    const choices = timeZoneChoices('', WINTER);
    expect(choices).toHaveLength(25);
    expect(choices[0]).toEqual({ name: 'UTC', value: 'UTC' });
    expect(choices).toContainEqual({ name: 'Europe/Paris (CET, UTC+1)', value: 'Europe/Paris' });
  });

  it('put the zone named first, then other matches', () => {
    const choices = timeZoneChoices('paris', WINTER);
    expect(choices[0]).toEqual({ name: 'Europe/Paris (CET, UTC+1)', value: 'Europe/Paris' });
    expect(timeZoneChoices('par', WINTER)[0]?.value).toBe('Europe/Paris');
    expect(timeZoneChoices('mun', WINTER)[0]).toEqual({
      name: 'Munich: Europe/Berlin (CET, UTC+1)',
      value: 'Europe/Berlin',
    });
  });

  it('find a zone by its old name, and give its current one', () => {
    expect(timeZoneChoices('kie', WINTER)[0]).toEqual({
      name: 'Kiev: Europe/Kyiv (EET, UTC+2)',
      value: 'Europe/Kyiv',
    });
    for (const typed of ['kiev', 'Europe/Kiev', 'europe/kyiv', 'Kyiv']) {
      expect(timeZoneChoices(typed, WINTER)[0]).toEqual({
        name: 'Europe/Kyiv (EET, UTC+2)',
        value: 'Europe/Kyiv',
      });
    }
    // No choice anywhere carries an old spelling.
    const old = new Set(Object.keys(CURRENT_ZONE_NAMES));
    for (const typed of ['', 'a', 'e', 'asia', 'america/', 'pacific', 'eet', '+05:30', '+2']) {
      for (const choice of timeZoneChoices(typed, WINTER)) expect(old.has(choice.value)).toBe(false);
    }
  });

  it('offer every candidate of an abbreviation or offset, labelled, at most 25', () => {
    const cet = timeZoneChoices('CET', WINTER);
    expect(cet).toHaveLength(25);
    expect(cet.every((choice) => choice.name.startsWith(`${choice.value} (CET, UTC+1)`))).toBe(true);
    const plusTwo = timeZoneChoices('UTC+2', WINTER);
    expect(plusTwo.length).toBeLessThanOrEqual(25);
    expect(plusTwo[0]).toEqual({ name: 'Africa/Cairo (EET, UTC+2)', value: 'Africa/Cairo' });
    expect(timeZoneChoices('GMT+14', WINTER).at(-1)).toEqual({
      name: 'Etc/GMT-14 (fixed UTC+14, no daylight saving)',
      value: 'Etc/GMT-14',
    });
  });

  it('say in one choice why nothing fits, within Discord limits', () => {
    // The full refusal is longer than Discord's 100 characters, so the choice says it shorter.
    expect(timeZoneChoices('zzzz', WINTER)).toEqual([
      { name: '"zzzz" is not a time zone I know: try a city like Paris.', value: 'zzzz' },
    ]);
    // Punctuation alone is no city: it must not match every zone.
    for (const typed of [',', '.', "'", '__']) {
      const choices = timeZoneChoices(typed, WINTER);
      expect(choices).toHaveLength(1);
      expect(choices[0]?.name).toMatch(/is not a time zone I know/);
    }
    const [long] = timeZoneChoices(`q${'x'.repeat(300)}`, WINTER);
    expect(long?.name.length).toBeLessThanOrEqual(100);
    expect(long?.value.length).toBeLessThanOrEqual(100);
    expect(timeZoneChoices('UTC+25', WINTER)).toEqual([
      { name: '"UTC+25" is not a UTC offset in use: offsets run from UTC-12 to UTC+14.', value: 'UTC+25' },
    ]);
  });

  it.each(['', 'CET', 'UTC+2', 'ist', 'par', 'america', 'gmt', 'etc', 'new', 'sao', 'EST5EDT', '-3'])(
    'for %j, every choice fits Discord and picking it works',
    (typed) => {
      for (const nowMs of [WINTER, SUMMER]) {
        const choices = timeZoneChoices(typed, nowMs);
        expect(choices.length).toBeGreaterThan(0);
        expect(choices.length).toBeLessThanOrEqual(25);
        for (const choice of choices) {
          expect(choice.name.length).toBeLessThanOrEqual(100);
          expect(zone(choice.value, nowMs)).toBe(choice.value);
        }
      }
    },
  );
});

describe('name matching', () => {
  const values = (typed: string) => timeZoneChoices(typed, WINTER).map((choice) => choice.value);

  it('puts prefix matches first, at most 25', () => {
    expect(values('par')).toContain('Europe/Paris');
    expect(values('europe')).toHaveLength(25);
    expect(values('europe').every((name) => name.startsWith('Europe/'))).toBe(true);
    expect(values('new york')).toContain('America/New_York');
    expect(values('new_y')).toContain('America/New_York');
    expect(values('etc/gmt-1')).toEqual(expect.arrayContaining(['Etc/GMT-1', 'Etc/GMT-10', 'Etc/GMT-14']));
  });
});

describe('the hand-kept data', () => {
  it('names only zones Node knows, in their current spelling', () => {
    const zones = [
      ...Object.values(CURRENT_ZONE_NAMES),
      ...Object.values(EXTRA_CITIES),
      ...EXTRA_ABBREVIATIONS.flatMap((entry) => entry.zones),
      ...MAJOR_ZONES,
    ];
    for (const name of zones) expect(zone(name)).toBe(name);
    expect(new Set(MAJOR_ZONES).size).toBe(MAJOR_ZONES.length);
  });

  it('leaves no city two zones: no two IANA names end in the same city, and EXTRA_CITIES adds none of them', () => {
    const cities = timeZoneNames().map((name) => name.slice(name.lastIndexOf('/') + 1).toLowerCase());
    expect(new Set(cities).size).toBe(cities.length);
    const asTyped = new Set(cities.map((city) => city.replace(/[_-]/g, ' ')));
    for (const city of Object.keys(EXTRA_CITIES)) expect(asTyped.has(city)).toBe(false);
    // Nor does an old name: a renamed zone's old city is no other zone's city.
    for (const [old, current] of Object.entries(CURRENT_ZONE_NAMES)) {
      const city = old
        .slice(old.lastIndexOf('/') + 1)
        .toLowerCase()
        .replace(/[_-]/g, ' ');
      if (asTyped.has(city)) expect(zone(city)).toBe(current);
    }
  });

  it('lists every zone under its current name only', () => {
    const names = timeZoneNames();
    for (const [old, current] of Object.entries(CURRENT_ZONE_NAMES)) {
      expect(names).not.toContain(old);
      expect(names).toContain(current);
    }
  });
});

describe('prepareTimeZones', () => {
  type Module = typeof import('../../src/discord/time-zones.js');

  /** With a fresh copy of the module (its caches empty): how many ICU formatters each step makes. */
  async function formattersMade(...steps: ((module: Module) => void)[]): Promise<number[]> {
    vi.resetModules();
    const fresh: Module = await import('../../src/discord/time-zones.js');
    const Original = Intl.DateTimeFormat;
    let made = 0;
    Intl.DateTimeFormat = class extends Original {
      constructor(...args: ConstructorParameters<typeof Original>) {
        super(...args);
        made++;
      }
    } as typeof Intl.DateTimeFormat;
    try {
      return steps.map((step) => {
        const before = made;
        step(fresh);
        return made - before;
      });
    } finally {
      Intl.DateTimeFormat = Original;
    }
  }

  it('does the one-time scan of every zone up front, so the first abbreviation typed needs none', async () => {
    const [cold] = await formattersMade((m) => m.parseTimeZone('CET', WINTER));
    expect(cold).toBeGreaterThan(400);
    const [prepare, afterwards] = await formattersMade(
      (m) => m.prepareTimeZones(WINTER),
      (m) => expect(m.parseTimeZone('UTC+2', WINTER).ok).toBe(false),
    );
    expect(prepare).toBeGreaterThan(400);
    expect(afterwards).toBe(0);
  });

  it('is not needed for names and cities', async () => {
    expect(await formattersMade((m) => m.parseTimeZone('paris', WINTER))).toEqual([0]);
    expect(await formattersMade((m) => m.parseTimeZone('Europe/Berlin', WINTER))).toEqual([0]);
  });
});
