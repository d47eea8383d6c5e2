import { z } from 'zod';
import { currentZoneName } from './zone-names.js';

// The schedule stored with a task: the loop options a persisted task may use, as JSON.
// Lives in the db layer because the schema column is typed by it; src/tasks re-exports it.

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

// Stored under its current tz name, however it was given (Europe/Kiev becomes Europe/Kyiv).
const timeZone = z.string().refine(isTimeZone, { message: 'unknown time zone' }).transform(currentZoneName);
const timeOfDay = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, { message: 'a time of day is HH:MM or HH:MM:SS (24 h)' });

export const intervalScheduleSchema = z.object({
  kind: z.literal('interval'),
  seconds: z.number().positive().finite(),
});

export const timesScheduleSchema = z.object({
  kind: z.literal('times'),
  times: z.array(timeOfDay).min(1).max(24),
  // Weekly: ISO weekdays (1 = Monday … 7 = Sunday). Left out: every day.
  days: z.array(z.number().int().min(1).max(7)).min(1).max(7).optional(),
  timeZone: timeZone,
});

export const cronScheduleSchema = z.object({
  kind: z.literal('cron'),
  cron: z.string().trim().min(1),
  timeZone: timeZone,
});

// One run at an instant (epoch ms), then the task is completed. The zone is the one it was typed in, for display.
export const onceScheduleSchema = z.object({
  kind: z.literal('once'),
  at: z.number().int().finite(),
  timeZone: timeZone,
});

export const taskScheduleSchema = z.discriminatedUnion('kind', [
  intervalScheduleSchema,
  timesScheduleSchema,
  cronScheduleSchema,
  onceScheduleSchema,
]);

export type TaskSchedule = z.infer<typeof taskScheduleSchema>;
