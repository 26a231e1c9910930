import { redactText } from '../secrets/redact-text.js';

/**
 * One line, bounded, for logs and `updateJob` errors, with secrets masked. Never the error's own
 * properties. agents-js reports provider failures as `{ type: 'llm_error', label, error }`.
 */
export function describeError(error: unknown): string {
  let text: string;
  if (error instanceof Error) text = `${error.name}: ${error.message}`;
  else if (
    typeof error === 'object' &&
    error !== null &&
    (error as { error?: unknown }).error instanceof Error
  ) {
    const {
      type,
      label,
      error: inner,
    } = error as { type?: unknown; label?: unknown; error: Error };
    const source = [type, label]
      .filter((p): p is string => typeof p === 'string' && p !== '')
      .join(' ');
    text = `${source ? `${source}: ` : ''}${inner.name}: ${inner.message}`;
  } else text = `non-error thrown: ${String(error)}`;
  const line = redactText(text.split('\n')[0] ?? text);
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/**
 * The message alone, secrets masked, for text a person reads after a fixed prefix ("cannot reach
 * the worker: ..."). Kept whole, lines included: a config error lists one field per line.
 */
export function errorMessage(error: unknown): string {
  return redactText(error instanceof Error ? error.message : String(error));
}
