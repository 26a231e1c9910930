import { knownSecrets, rememberProviders } from '../secrets/known-secrets.js';
import { redactText } from '../secrets/redact-text.js';
import type { TenantConfig } from './types.js';

function providerName(provider: object | undefined): string | undefined {
  if (provider === undefined) return undefined;
  const label = (provider as { label?: unknown }).label;
  if (typeof label === 'function') {
    try {
      const value: unknown = label.call(provider);
      if (typeof value === 'string') return redactText(value).slice(0, 80);
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

/**
 * Teaches the process a resolved tenant config's secrets (values under secret names in its
 * providers and settings) and its provider objects, so both are masked wherever they would appear.
 */
export function rememberTenantSecrets(config: TenantConfig | undefined): void {
  if (!config) return;
  knownSecrets.collect(config);
  rememberProviders([config.stt, config.llm, config.tts]);
}
