import { z } from 'zod';
import { ControlError } from './control-error.js';
import type { PeerCredentials } from './peer-credentials.js';

/** Wire format of the control socket: one JSON object per line, in both directions. */
export const PROTOCOL_VERSION = 1 as const;

export const RequestId = z.union([z.string().max(128), z.number().int()]);
export type RequestId = z.infer<typeof RequestId>;

export const IpcRequest = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  id: RequestId,
  method: z.string().min(1).max(64),
  params: z.record(z.string(), z.unknown()).optional(),
});
export type IpcRequest = z.infer<typeof IpcRequest>;

/** The id of a request that may be malformed otherwise, so even an error answer can name it. */
export function requestIdOf(raw: unknown): RequestId | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const id = (raw as { id?: unknown }).id;
  if (typeof id === 'string' && id.length <= 128) return id;
  if (typeof id === 'number' && Number.isInteger(id)) return id;
  return null;
}

export const ErrorAnswer = z.strictObject({ code: z.string(), message: z.string() });

export const IpcResponse = z.union([
  z.strictObject({ v: z.literal(PROTOCOL_VERSION), id: RequestId.nullable(), result: z.unknown() }),
  z.strictObject({ v: z.literal(PROTOCOL_VERSION), id: RequestId.nullable(), error: ErrorAnswer }),
]);
export type IpcResponse = z.infer<typeof IpcResponse>;

/**
 * What a handler knows of a call: the calling process as the kernel reports it, never as the
 * client claims. Only the worker's own uid (or root) can connect: the socket is 0600 in a 0700
 * directory owned by that uid.
 */
export interface CallContext {
  /** The peer process as the kernel knows it (SO_PEERCRED); undefined where that cannot be read. */
  peer(): Promise<PeerCredentials | undefined>;
}

/**
 * A method of the socket. To refuse a request on purpose it throws a `ControlError`, whose code
 * and message go to the client as they are; any other thrown value is answered `internal`.
 */
export type Handler = (params: unknown, ctx: CallContext) => Promise<unknown> | unknown;

/** A handler whose params are validated by `schema`; a mismatch is `bad_request` naming the field. */
export function defineMethod<S extends z.ZodType>(
  schema: S,
  fn: (params: z.infer<S>, ctx: CallContext) => Promise<unknown> | unknown,
): Handler {
  return (params, ctx) => {
    const parsed = schema.safeParse(params ?? {});
    if (!parsed.success)
      throw new ControlError('bad_request', describeZodError(parsed.error, 'params'));
    return fn(parsed.data, ctx);
  };
}

/** `params.intervalMs: Too small: expected number to be >=100` — the first issue, with its path. */
export function describeZodError(error: z.ZodError, root: string): string {
  const issue = error.issues[0];
  if (!issue) return `${root}: invalid`;
  // Messages written for one field already name it.
  if (issue.message.startsWith(root)) return issue.message;
  const path = [root, ...issue.path.map(String)].join('.');
  return `${path}: ${issue.message}`;
}

/**
 * True for the errors a method throws on purpose. A Node error's code (`ENOENT`) or anything else
 * thrown is the worker's own business: the client gets `internal`, with no detail.
 */
export function isPublicError(err: unknown): err is ControlError {
  return err instanceof ControlError && /^[a-z][a-z_]{0,63}$/.test(err.code);
}
