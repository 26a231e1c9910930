import { isSecretName, providerLabel, REDACTED } from './known-secrets.js';
import { redactLogText, redactText } from './redact-text.js';

/** A log object is walked at most this deep and this far; beyond, a placeholder stands in. */
export const MAX_LOG_DEPTH = 10;
export const MAX_LOG_NODES = 2_000;

/**
 * A copy of `value` fit for a log line: values under secret names are `[redacted]` at any depth,
 * provider objects become a fixed placeholder (their fields are never walked), known secret
 * values and labelled credentials inside strings are masked, cycles read `[circular]`, and the
 * walk stops at `MAX_LOG_DEPTH` levels or `MAX_LOG_NODES` values, so its cost is bounded
 * whatever is logged. The original is never modified.
 */
export function redactForLog(value: unknown): unknown {
  const ancestors = new Set<object>();
  let budget = MAX_LOG_NODES;

  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return redactLogText(v);
    if (typeof v !== 'object' || v === null) return v;
    if (budget-- <= 0 || depth > MAX_LOG_DEPTH) return '[truncated]';
    if (ancestors.has(v)) return '[circular]';
    const provider = providerLabel(v);
    if (provider) return provider;
    if (v instanceof Error) return errorForLog(v);
    // Audio frames and other binary data: their size, not thousands of numbers.
    if (ArrayBuffer.isView(v)) return `[${v.constructor.name} of ${v.byteLength} bytes]`;
    if (v instanceof Map || v instanceof Set) return `[${v.constructor.name} of ${v.size}]`;
    ancestors.add(v);
    try {
      if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
      const json = (v as { toJSON?: unknown }).toJSON;
      if (typeof json === 'function') return walk(json.call(v), depth + 1);
      // A plain object, as pino expects; only a `__proto__` key needs defining to stay a key.
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v)) {
        let child: unknown;
        try {
          child = (v as Record<string, unknown>)[key];
        } catch {
          continue;
        }
        if (typeof child === 'function') continue;
        const value =
          isSecretName(key) && child !== null && child !== undefined && typeof child !== 'boolean'
            ? REDACTED
            : walk(child, depth + 1);
        if (key === '__proto__')
          Object.defineProperty(out, key, {
            value,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        else out[key] = value;
      }
      return out;
    } finally {
      ancestors.delete(v);
    }
  };
  return walk(value, 0);
}

/**
 * Errors keep their class, type, message and stack, masked; nothing of their own properties (a
 * `cause` or a field could hold anything). Still an instance of its class, so pino's error
 * serialiser names its type; `type` is set too, for an error nested where no serialiser looks.
 */
function errorForLog(err: Error): Error {
  const copy = Object.create(Object.getPrototypeOf(err) as object) as Error;
  shadowInheritedAccessors(err, copy);
  const message = redactText(err.message);
  Object.defineProperty(copy, 'type', {
    value: err.name,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(copy, 'message', {
    value: message,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  // A stack is mostly file paths, which the long-token rule would eat; its message part is masked above.
  if (err.stack)
    Object.defineProperty(copy, 'stack', {
      value: redactLogText(err.stack.replace(err.message, message)),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return copy;
}

/**
 * Host classes check the receiver of their prototype getters: `DOMException`'s `name`, `code`
 * and `message` throw for any object but a real DOMException, so a serialiser reading them on the
 * copy would throw inside whatever was logging (a session's promise chain, say). Each inherited
 * accessor is read once on the original and set on the copy as a plain value, strings masked.
 */
function shadowInheritedAccessors(err: Error, copy: Error): void {
  for (
    let proto = Object.getPrototypeOf(err) as object | null;
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    for (const [key, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (!descriptor.get || Object.prototype.hasOwnProperty.call(copy, key)) continue;
      let value: unknown;
      try {
        value = (err as unknown as Record<string, unknown>)[key];
      } catch {
        value = undefined;
      }
      const plain =
        typeof value === 'string'
          ? redactText(value)
          : typeof value === 'object' || typeof value === 'function'
            ? undefined
            : value;
      Object.defineProperty(copy, key, {
        value: plain,
        enumerable: descriptor.enumerable ?? false,
        writable: true,
        configurable: true,
      });
    }
  }
}
