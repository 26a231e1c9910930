import { Job, Room as RoomModel } from '@livekit/protocol';
import type { Logger } from 'pino';
import type { Reservation, SessionOutcome } from '../../src/admission/types.js';
import { createLogger } from '../../src/logging/logger.js';
import { WORKER_ERROR_HANDLER } from '../../src/session/failure-attribution.js';
import type { SessionEndedEvent, SessionsPort } from '../../src/session/types.js';

export interface RecordingReservation extends Reservation {
  releases: SessionOutcome[];
  startedCount: number;
}

/** A reservation that records every release attempt, so "exactly once" can be asserted. */
export function recordingReservation(
  jobId: string,
  tenant: string,
  agentName: string,
): RecordingReservation {
  let settle!: () => void;
  const r: RecordingReservation = {
    id: `res-${jobId}`,
    jobId,
    tenant,
    agentName,
    probe: false,
    releases: [],
    startedCount: 0,
    released: false,
    settled: new Promise<void>((resolve) => (settle = resolve)),
    markStarted() {
      r.startedCount += 1;
    },
    release(outcome) {
      r.releases.push(outcome);
      if (r.released) return false;
      (r as { released: boolean }).released = true;
      settle();
      return true;
    },
  };
  return r;
}

export function localJob(id: string, agentName: string, metadata = ''): Job {
  return new Job({ id, agentName, metadata, room: new RoomModel({ name: `room-${id}` }) });
}

export interface MemoryLog {
  logger: Logger;
  lines(): Record<string, unknown>[];
}

export function memoryLogger(): MemoryLog {
  const chunks: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (s: string) => void chunks.push(s) },
  });
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export function waitEnded(
  host: SessionsPort,
  jobId: string,
  timeoutMs = 10_000,
): Promise<SessionEndedEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`session ${jobId} did not end within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = host.subscribe({
      ended: (e) => {
        if (e.jobId !== jobId) return;
        clearTimeout(timer);
        off();
        resolve(e);
      },
    });
  });
}

type ErrorEvent = 'uncaughtException' | 'unhandledRejection';
type Listener = (...args: unknown[]) => void;
/** `process` typed loosely: the typed overloads cannot take a union of event names. */
const emitter = process as unknown as {
  listeners(e: string): Listener[];
  removeListener(e: string, l: Listener): void;
  addListener(e: string, l: Listener): void;
};

/**
 * The test runner listens for stray errors too and fails the run on them. While a test
 * deliberately raises them, only the worker's own handler may see them.
 */
export function detachRunnerErrorHandlers(): () => void {
  const saved = (['uncaughtException', 'unhandledRejection'] as ErrorEvent[]).map((event) => {
    const listeners = emitter.listeners(event).filter((l) => !(WORKER_ERROR_HANDLER in l));
    for (const l of listeners) emitter.removeListener(event, l);
    return { event, listeners };
  });
  return () => {
    for (const { event, listeners } of saved)
      for (const l of listeners) emitter.addListener(event, l);
  };
}
