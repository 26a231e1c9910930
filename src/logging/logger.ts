import { pino, type Logger, type DestinationStream } from 'pino';
import { describeError } from '../errors/describe-error.js';
import { redactForLog } from '../secrets/redact-value.js';
import { currentScope } from '../scope/session-scope.js';

export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  level?: string;
  format?: LogFormat;
  /** Where lines go; defaults to stdout. Tests pass an in-memory stream. */
  destination?: DestinationStream;
  /** Colour in the pretty format; the caller decides from the terminal and `NO_COLOR`. Default off. */
  color?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const {
    level = process.env.OPENRTC_LOG_LEVEL ?? 'info',
    format = 'json',
    destination,
    color = false,
  } = options;
  const base = {
    level,
    base: { pid: process.pid },
    // Every argument of every line (objects at any depth, the message, printf arguments) passes
    // through the redaction before pino formats it; errors come out of it as masked copies.
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        try {
          method.apply(this, args.map(redactForLog));
        } catch (err) {
          // A log call never fails its caller: one that throws inside a session's promise chain
          // would end that call as an unhandled rejection. The line is kept, its fields are not.
          const msg = args.find((a): a is string => typeof a === 'string') ?? '';
          method.call(this, { log_error: describeError(err) }, redactForLog(msg));
        }
      },
    },
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    // Every line written inside a session's async scope names its tenant, session and agent,
    // without the agent author having to pass a child logger around.
    mixin() {
      const scope = currentScope();
      return scope ? { tenant: scope.tenant, session_id: scope.sessionId, agent: scope.agent } : {};
    },
  };
  if (destination) return redactChildBindings(pino(base, destination));
  if (format === 'pretty') {
    return redactChildBindings(
      pino({
        ...base,
        transport: {
          target: 'pino-pretty',
          options: { colorize: color, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' },
        },
      }),
    );
  }
  return redactChildBindings(pino(base));
}

/**
 * pino serialises a child's bindings once, when the child is made, and its bindings formatter
 * does not apply to children; so `child` itself redacts them. Children of children inherit this
 * `child` through their prototype.
 */
function redactChildBindings(logger: Logger): Logger {
  const original = logger.child;
  logger.child = function child(
    this: Logger,
    bindings: Record<string, unknown>,
    options?: Parameters<Logger['child']>[1],
  ) {
    return original.call(this, redactForLog(bindings) as Record<string, unknown>, options);
  } as Logger['child'];
  return logger;
}
