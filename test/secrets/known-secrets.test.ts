import { describe, expect, it } from 'vitest';
import { KnownSecrets, MAX_KNOWN_SECRETS } from '../../src/secrets/known-secrets.js';
import { describeError } from '../../src/errors/describe-error.js';

describe('KnownSecrets', () => {
  it('masks every occurrence, the longest known value first, and leaves other text alone', () => {
    const k = new KnownSecrets();
    k.add('QUOKKA-1234');
    k.add('QUOKKA-1234-longer');
    k.add('short');
    expect(k.mask('a QUOKKA-1234-longer b QUOKKA-1234 c short')).toBe(
      'a [redacted] b [redacted] c short',
    );
    expect(k.mask('nothing here')).toBe('nothing here');
  });

  it('collects values under secret names at any depth, survives cycles, and skips other fields', () => {
    const k = new KnownSecrets();
    const provider: Record<string, unknown> = {
      opts: {
        apiKey: 'QUOKKA-api-1',
        model: 'model-name-1',
        headers: { Authorization: 'Bearer QUOKKA-bearer-1' },
      },
      client: { auth: { credentials: { value: 'QUOKKA-cred-1' } } },
      organization: 'org-name-visible',
      stray: 'sk-live-abcdefgh',
    };
    provider.self = provider;
    k.collect(provider);
    expect(k.mask('QUOKKA-api-1 QUOKKA-bearer-1 QUOKKA-cred-1 sk-live-abcdefgh')).toBe(
      '[redacted] [redacted] [redacted] [redacted]',
    );
    expect(k.mask('model-name-1 org-name-visible')).toBe('model-name-1 org-name-visible');
  });

  it('remembers secret-named environment variables, and is bounded', () => {
    const k = new KnownSecrets();
    k.collectEnv({
      DEEPGRAM_API_KEY: 'QUOKKA-env-1',
      HOME: '/root/home-dir',
      LIVEKIT_API_SECRET: 'QUOKKA-env-2',
    });
    expect(k.mask('QUOKKA-env-1 /root/home-dir QUOKKA-env-2')).toBe(
      '[redacted] /root/home-dir [redacted]',
    );
    for (let i = 0; i < MAX_KNOWN_SECRETS + 10; i++) k.add(`value-number-${i}`);
    expect(k.size).toBe(MAX_KNOWN_SECRETS);
  });
});

describe('describeError', () => {
  it('redacts what it describes, including the errors agents-js reports for providers', () => {
    expect(describeError(new Error('refused api_key=abc123'))).toBe(
      'Error: refused api_key=[redacted]',
    );
    const llmError = {
      type: 'llm_error',
      label: 'openai.LLM',
      error: new Error('401 for sk-live-abcdefgh'),
      recoverable: false,
    };
    expect(describeError(llmError)).toBe('llm_error openai.LLM: Error: 401 for [redacted]');
  });
});
