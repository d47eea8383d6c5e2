// Zones stored under the old spellings ICU still gives (Europe/Kiev) come out under their current tz names:
// rows an older Metronome wrote are renamed by migration 0004, and every new schedule passes the gate's rename.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CURRENT_ZONE_NAMES,
  currentZoneName,
  guildTimeZone,
  MIGRATIONS_FOLDER,
  openDatabase,
} from '../../src/db/index.js';
import { firstDueAt, normalizeSchedule } from '../../src/loop/index.js';
import { checkSchedule } from '../../src/tasks/index.js';
import { databaseBefore, useTempDir } from './helpers.js';

const MIGRATION = '0004_current_zone_names';

describe('current zone names', () => {
  const tempDbPath = useTempDir();

  it('renames the zones an older Metronome stored, in schedules and server settings, and nothing else', () => {
    const path = tempDbPath();
    const old = databaseBefore(path, MIGRATION);
    const insert = old.prepare(
      'INSERT INTO tasks (guild_id, name, kind, schedule, channel_id, created_by, created_at, updated_at) ' +
        "VALUES ('g1', ?, 'reminder', ?, 'c1', 'u1', 1, 1)",
    );
    const stored = {
      kyiv: { kind: 'times', times: ['09:00'], timeZone: 'Europe/Kiev' },
      kolkata: { kind: 'cron', cron: '0 9 * * *', timeZone: 'Asia/Calcutta' },
      nuuk: { kind: 'once', at: 2_000_000_000_000, timeZone: 'America/Godthab' },
      paris: { kind: 'times', times: ['09:00'], days: [1], timeZone: 'Europe/Paris' },
      every: { kind: 'interval', seconds: 60 },
    };
    for (const [name, schedule] of Object.entries(stored)) insert.run(name, JSON.stringify(schedule));
    // Not JSON at all (written by hand, say): left as it is rather than failing the start-up.
    insert.run('broken', '{not json');
    const settings = old.prepare(
      "INSERT INTO guild_settings (guild_id, time_zone, updated_at, updated_by) VALUES (?, ?, 1, 'u1')",
    );
    settings.run('g1', 'Europe/Kiev');
    settings.run('g2', 'Asia/Saigon');
    settings.run('g3', 'Europe/Paris');
    settings.run('g4', null);
    old.close();

    const conn = openDatabase(path);
    try {
      const schedules = Object.fromEntries(
        (
          conn.sqlite.prepare('SELECT name, schedule FROM tasks').all() as {
            name: string;
            schedule: string;
          }[]
        ).map(({ name, schedule }) => [name, schedule]),
      );
      expect(JSON.parse(schedules.kyiv!)).toEqual({ ...stored.kyiv, timeZone: 'Europe/Kyiv' });
      expect(JSON.parse(schedules.kolkata!)).toEqual({ ...stored.kolkata, timeZone: 'Asia/Kolkata' });
      expect(JSON.parse(schedules.nuuk!)).toEqual({ ...stored.nuuk, timeZone: 'America/Nuuk' });
      expect(JSON.parse(schedules.paris!)).toEqual(stored.paris);
      expect(JSON.parse(schedules.every!)).toEqual(stored.every);
      expect(schedules.broken).toBe('{not json');
      expect(['g1', 'g2', 'g3', 'g4'].map((guildId) => guildTimeZone(conn.db, guildId))).toEqual([
        'Europe/Kyiv',
        'Asia/Ho_Chi_Minh',
        'Europe/Paris',
        'UTC',
      ]);
    } finally {
      conn.close();
    }
  });

  it('renames in the migration exactly what the code renames', () => {
    const sql = readFileSync(join(MIGRATIONS_FOLDER, `${MIGRATION}.sql`), 'utf8');
    const statements = sql.split('--> statement-breakpoint');
    expect(statements).toHaveLength(2);
    for (const statement of statements) {
      const pairs = [...statement.matchAll(/\('([^']+)', '([^']+)'\)/g)].map(([, old, current]) => [
        old,
        current,
      ]);
      expect(Object.fromEntries(pairs)).toEqual(CURRENT_ZONE_NAMES);
    }
  });

  it('maps each old spelling to a current name Intl takes for the same zone, and leaves current names be', () => {
    const instants = [Date.UTC(1995, 0, 15), Date.UTC(2026, 0, 15), Date.UTC(2026, 6, 15)];
    const wallTimes = (timeZone: string) =>
      instants.map((at) =>
        new Intl.DateTimeFormat('en-GB', { timeZone, dateStyle: 'short', timeStyle: 'long' }).format(at),
      );
    for (const [old, current] of Object.entries(CURRENT_ZONE_NAMES)) {
      expect(wallTimes(current)).toEqual(wallTimes(old));
      expect(currentZoneName(old)).toBe(current);
      expect(currentZoneName(current)).toBe(current);
    }
    // Renaming never folds two zones Intl lists into one.
    const listed = Intl.supportedValuesOf('timeZone').map(currentZoneName);
    expect(new Set(listed).size).toBe(listed.length);
    expect(currentZoneName('Europe/Paris')).toBe('Europe/Paris');
  });

  it('stores every new schedule under the current name, whichever spelling it is given in', () => {
    const now = Date.UTC(2026, 11, 1);
    expect(checkSchedule({ kind: 'times', times: ['09:00'], timeZone: 'Europe/Kiev' }, now)).toEqual({
      kind: 'times',
      times: ['09:00'],
      timeZone: 'Europe/Kyiv',
    });
    expect(checkSchedule({ kind: 'cron', cron: '0 9 * * *', timeZone: 'Asia/Katmandu' }, now)).toMatchObject({
      timeZone: 'Asia/Kathmandu',
    });
    expect(checkSchedule({ kind: 'once', at: now + 60_000, timeZone: 'Europe/Kyiv' }, now)).toMatchObject({
      timeZone: 'Europe/Kyiv',
    });
    expect(() => checkSchedule({ kind: 'times', times: ['09:00'], timeZone: 'Europe/Kyyiv' }, now)).toThrow(
      /unknown time zone/,
    );
  });

  it('runs a Europe/Kyiv schedule in the loop engine on Node 20, at the same instants as Europe/Kiev', () => {
    const winter = Date.UTC(2026, 11, 1, 12);
    const summer = Date.UTC(2026, 6, 1, 12);
    for (const now of [winter, summer]) {
      const kyiv = firstDueAt(normalizeSchedule({ time: '09:00', timeZone: 'Europe/Kyiv' }), now);
      expect(kyiv).toBe(firstDueAt(normalizeSchedule({ time: '09:00', timeZone: 'Europe/Kiev' }), now));
      // 09:00 in Kyiv is 07:00 UTC in winter (EET) and 06:00 UTC in summer (EEST), the next day here.
      expect(new Date(kyiv).toISOString().slice(11, 16)).toBe(now === winter ? '07:00' : '06:00');
    }
  });
});
