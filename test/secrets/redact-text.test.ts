import { describe, expect, it } from 'vitest';
import { redactText } from '../../src/secrets/redact-text.js';

describe('redactText', () => {
  it.each([
    ['using sk-live-abcdef0123456789', 'using [redacted]'],
    ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc', 'Authorization: [redacted]'],
    ['api_key=abc123 rest', 'api_key=[redacted] rest'],
    ['plain words stay', 'plain words stay'],
  ])('%s', (input, output) => {
    expect(redactText(input)).toBe(output);
  });
});
