import { describe, expect, it } from 'vitest';
import { describeTenantConfig } from '../../src/tenancy/redact.js';

class SecretLLM {
  constructor(readonly apiKey: string) {}
  label() {
    return 'openai.LLM';
  }
}

describe('describeTenantConfig', () => {
  it('names the providers and says which fields are set, never their values', () => {
    const described = describeTenantConfig({
      llm: new SecretLLM('sk-live-SECRET') as never,
      greeting: 'v3',
    });
    expect(described).toEqual({
      configured: true,
      llm: 'openai.LLM',
      stt: undefined,
      tts: undefined,
      instructions: false,
      greeting: true,
      settings: [],
    });
    expect(JSON.stringify(described)).not.toContain('SECRET');
  });
});
