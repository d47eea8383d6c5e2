// The runtime's lifecycle events: what metrics (and anything else that watches the bot) listen to, one event
// stream instead of calls sprinkled through the runtime, as Sapphire's scheduled tasks emit theirs.
import { EventEmitter } from 'node:events';
import type { RunOutcome } from '../db/index.js';

/** An attempt of a task's slot ended and was recorded (or a slot was settled without running). */
export interface RunRecordedEvent {
  taskId: number;
  /** The task's handler kind: a label with few values, unlike the task's name or guild. */
  kind: string;
  outcome: RunOutcome;
  /** An error run that ended its slot after retrying for the whole run retry window. */
  gaveUp: boolean;
  scheduledAt: number;
  startedAt: number;
  finishedAt: number;
}

/** One write of the run journal: the starts of a tick's attempts, or a batch of finished ones. */
export interface JournalWriteEvent {
  what: 'intents' | 'records';
  rows: number;
  durationMs: number;
  ok: boolean;
  /** Records waiting to be written after this write (a refused batch stays queued for its retry). */
  queued: number;
}

export interface RuntimeEventMap {
  runRecorded: [RunRecordedEvent];
  journalWrite: [JournalWriteEvent];
}

export class RuntimeEvents extends EventEmitter<RuntimeEventMap> {}
