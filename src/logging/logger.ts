import { pino, type Logger, type DestinationStream } from 'pino';
import { currentScope } from './scope.js';

export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  level?: string;
  format?: LogFormat;
  /** Where lines go; defaults to stdout. Tests pass an in-memory stream. */
  destination?: DestinationStream;
  /** Colour in the pretty format; the caller decides from the terminal and `NO_COLOR`. Default off. */
  color?: boolean;
}

/**
 * Field names whose values are never written, wherever they appear in a log object. Provider
 * keys live in tenant configs; they must not reach a log line even when an object is logged
 * whole by mistake.
 */
export const REDACTED_PATHS = [
  'apiKey',
  'api_key',
  'apiSecret',
  'api_secret',
  'secret',
  'token',
  'password',
  'key',
  '*.apiKey',
  '*.api_key',
  '*.apiSecret',
  '*.api_secret',
  '*.secret',
  '*.token',
  '*.password',
  '*.key',
  '*.*.apiKey',
  '*.*.api_key',
  '*.*.secret',
  '*.*.token',
];

export function createLogger(options: LoggerOptions = {}): Logger {
  const { level = process.env.OPENRTC_LOG_LEVEL ?? 'info', format = 'json', destination, color = false } = options;
  const base = {
    level,
    base: { pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // Every line written inside a session's async scope names its tenant, session and agent,
    // without the agent author having to pass a child logger around.
    mixin() {
      const scope = currentScope();
      return scope ? { tenant: scope.tenant, session_id: scope.sessionId, agent: scope.agent } : {};
    },
  };
  if (destination) return pino(base, destination);
  if (format === 'pretty') {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: color, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino(base);
}
