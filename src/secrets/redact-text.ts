import { knownSecrets, REDACTED } from './known-secrets.js';

/** Credentials recognisable by shape or label, for text whose origin the worker cannot vouch for. */
function maskLabelled(text: string): string {
  return text
    .replace(/\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, REDACTED)
    .replace(/\b(sk|pk|rk)-[A-Za-z0-9_-]{6,}/g, REDACTED)
    .replace(
      /\b(api[_-]?key|api[_-]?secret|secret|token|password|key)(["']?\s*[:=]\s*["']?)[^\s"',}]+/gi,
      `$1$2${REDACTED}`,
    );
}

/** 32 or more token characters with letters and digits; `/` is left out so file paths survive. */
const LONG_TOKEN =
  /(?<![\w/.-])(?=[A-Za-z0-9+_-]*\d)(?=[A-Za-z0-9+_-]*[A-Za-z])[A-Za-z0-9+_-]{32,}={0,2}/g;

/**
 * Free text from errors and config files: known secret values, labelled or prefixed
 * credentials, and any run of 32 or more token characters (letters and digits) are masked.
 */
export function redactText(text: string): string {
  return maskLabelled(knownSecrets.mask(text)).replace(LONG_TOKEN, REDACTED);
}

/**
 * Text in log lines: known secret values and labelled or prefixed credentials are masked. Long
 * ids (room names that are UUIDs, job ids) stay readable, which is why the 32-character rule of
 * `redactText` is not applied here.
 */
export function redactLogText(text: string): string {
  return maskLabelled(knownSecrets.mask(text));
}
