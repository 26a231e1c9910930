import { z } from 'zod';

/**
 * What a supervisor and its workers say over Node's fork IPC channel. A worker says when it is
 * registered and serving, and when it wants to recycle; the supervisor answers the latter once
 * the replacement is serving, so capacity never drops during the handover.
 */
export const WorkerToSupervisorSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('openrtc:ready'), pid: z.number().int().positive() }),
  z.strictObject({
    type: z.literal('openrtc:recycle'),
    /** The condition that fired, as `maxSessions 20/20`. */
    condition: z.string().max(200),
  }),
]);
export type WorkerToSupervisor = z.infer<typeof WorkerToSupervisorSchema>;

export const SupervisorToWorkerSchema = z.discriminatedUnion('type', [
  /** The replacement is serving: stop accepting, drain, exit with the recycle code. */
  z.strictObject({ type: z.literal('openrtc:recycle-go') }),
]);
export type SupervisorToWorker = z.infer<typeof SupervisorToWorkerSchema>;

/** Set in a supervised worker's environment; without it a worker recycles on its own. */
export const SUPERVISED_ENV = 'OPENRTC_SUPERVISED';
