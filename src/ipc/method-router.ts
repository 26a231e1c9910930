import { errorMessage } from '../errors/describe-error.js';
import { redactText } from '../secrets/redact-text.js';
import type { ControlErrorCode } from './control-error.js';
import {
  IpcRequest,
  PROTOCOL_VERSION,
  describeZodError,
  isPublicError,
  requestIdOf,
  type CallContext,
  type Handler,
  type RequestId,
} from './protocol.js';

/** The logger calls the server makes (pino satisfies it). */
export interface IpcLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface Refusal {
  code: ControlErrorCode;
  message: string;
}

/** A request line read: the request, or the answer its id gets when it is not one. */
export type ReadRequest =
  { ok: true; request: IpcRequest } | ({ ok: false; id: RequestId | null } & Refusal);

export type CallOutcome = { ok: true; result: unknown } | ({ ok: false } & Refusal);

/**
 * From a request line to the method that answers it: the line is checked against the protocol,
 * the method looked up, and the method's failure turned into what a client may see of it.
 */
export class MethodRouter {
  constructor(
    private readonly handlers: Record<string, Handler>,
    private readonly logger: IpcLogger,
  ) {}

  read(line: string): ReadRequest {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return { ok: false, id: null, code: 'bad_json', message: 'request is not valid JSON' };
    }
    const id = requestIdOf(raw);
    if (isObject(raw) && raw.v !== PROTOCOL_VERSION) {
      return {
        ok: false,
        id,
        code: 'unsupported_version',
        message: `unsupported protocol version ${JSON.stringify(raw.v ?? null)}; this worker speaks v${PROTOCOL_VERSION}`,
      };
    }
    const parsed = IpcRequest.safeParse(raw);
    if (!parsed.success)
      return {
        ok: false,
        id,
        code: 'bad_request',
        message: describeZodError(parsed.error, 'request'),
      };
    return { ok: true, request: parsed.data };
  }

  /** The handler of `method`; own properties only, so `constructor` or `__proto__` is no method. */
  handler(method: string): Handler | undefined {
    return Object.hasOwn(this.handlers, method) ? this.handlers[method] : undefined;
  }

  async call(method: string, params: unknown, ctx: CallContext): Promise<CallOutcome> {
    const handler = this.handler(method);
    if (!handler) return { ok: false, ...unknownMethod(method) };
    try {
      return { ok: true, result: await handler(params, ctx) };
    } catch (err) {
      return { ok: false, ...this.#publicFailure(method, err) };
    }
  }

  /** What the client may see of a handler's failure; anything unintended is logged here, once. */
  #publicFailure(method: string, err: unknown): Refusal {
    if (isPublicError(err)) return { code: err.code, message: redactText(err.message) };
    this.logger.error({ method, err: errorMessage(err) }, 'control method failed');
    return { code: 'internal', message: `internal error in "${method}"` };
  }
}

export function unknownMethod(method: string): Refusal {
  return { code: 'unknown_method', message: `unknown method "${method}"` };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
