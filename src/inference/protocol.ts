import { z } from 'zod';

/**
 * Messages between the worker and its inference process, over the Node IPC channel (JSON
 * serialisation, as stock agents-js uses). `process-main.js` writes the child's side by hand; the
 * worker checks every message it receives against these schemas.
 *
 * Worker → inference process:
 * - `init {runners, logLevel}`: the first message; runners are `method -> import path`.
 * - `request {id, method, data}`: one `doInference` call.
 * - `ping {at}`: liveness, answered with the process's memory and CPU.
 * - `shutdown`: close the runners and exit.
 */
export type ToInferenceProcess =
  | { t: 'init'; runners: Record<string, string>; logLevel: string }
  | { t: 'request'; id: number; method: string; data: unknown }
  | { t: 'ping'; at: number }
  | { t: 'shutdown' };

const shortText = z.string().max(2_000);

export const FromInferenceProcess = z.discriminatedUnion('t', [
  z.strictObject({
    t: z.literal('ready'),
    runners: z.array(z.strictObject({ method: z.string(), loadMs: z.number().nonnegative() })),
  }),
  z.strictObject({
    t: z.literal('init_failed'),
    method: z.string().optional(),
    message: shortText,
  }),
  z.strictObject({
    t: z.literal('response'),
    id: z.number().int().nonnegative(),
    data: z.unknown().optional(),
    error: shortText.optional(),
  }),
  z.strictObject({
    t: z.literal('pong'),
    at: z.number(),
    rssBytes: z.number().int().nonnegative(),
    /** User plus system CPU time of the whole process (every thread), microseconds. */
    cpuMicros: z.number().nonnegative(),
  }),
  /** One pino line written in the inference process (agents-js's runners log through it). */
  z.strictObject({ t: z.literal('log'), line: z.string().max(16_384) }),
  z.strictObject({ t: z.literal('closed') }),
]);

export type FromInferenceProcess = z.infer<typeof FromInferenceProcess>;
