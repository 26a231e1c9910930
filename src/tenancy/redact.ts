import type { TenantConfig } from './types.js';

/** Masks anything in free text that looks like a credential. */
export function redactSecrets(text: string): string {
  return text
    .replace(/\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, '[redacted]')
    .replace(/\b(sk|pk|rk)-[A-Za-z0-9_-]{6,}/g, '[redacted]')
    .replace(/\b(api[_-]?key|api[_-]?secret|secret|token|password|key)(["']?\s*[:=]\s*["']?)[^\s"',}]+/gi, '$1$2[redacted]')
    .replace(/\b[A-Za-z0-9+/_-]{32,}={0,2}/g, '[redacted]');
}

function providerName(provider: object | undefined): string | undefined {
  if (provider === undefined) return undefined;
  const label = (provider as { label?: unknown }).label;
  if (typeof label === 'function') {
    try {
      const value: unknown = label.call(provider);
      if (typeof value === 'string') return redactSecrets(value).slice(0, 80);
    } catch {
      // fall through to the class name
    }
  }
  return provider.constructor?.name ?? 'object';
}

/** What may be shown of a tenant's config: provider kinds and which fields are set, never values. */
export function describeTenantConfig(config: TenantConfig | undefined) {
  if (!config) return { configured: false as const };
  return {
    configured: true as const,
    stt: providerName(config.stt),
    llm: providerName(config.llm),
    tts: providerName(config.tts),
    instructions: config.instructions !== undefined,
    greeting: config.greeting !== undefined,
    settings: config.settings ? Object.keys(config.settings) : [],
  };
}
