import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** LiveKit-style id: a type prefix (`AJ_`, `AW_`, `AD_`, `RM_`) and 12 random characters. */
export function newId(prefix: string): string {
  const bytes = randomBytes(12);
  let out = prefix;
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}
