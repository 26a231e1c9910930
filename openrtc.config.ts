// The demo: four tenants on one worker, runnable with nothing but `npm ci`.
//   npx openrtc dev                                         # worker + local dispatcher
//   npx openrtc dispatch --agent demo --tenant acme --count 5 --duration 120
import { voice } from '@livekit/agents';
import { defineConfig, type TenantConfig } from 'openrtc';

/**
 * Stands in for a provider factory that builds STT/LLM/TTS clients with the tenant's own keys
 * (from a secrets manager or a database). The demo uses the agents-js test LLM, so it needs no
 * network and no keys; each tenant still gets its own provider objects.
 */
function loadTenantConfig(tenant: string): TenantConfig | undefined {
  switch (tenant) {
    case 'acme':
      return {
        llm: new voice.testing.FakeLLM([
          { input: 'hello', content: 'Acme Support, how can I help?' },
        ]),
        instructions: 'You are the Acme support line.',
        greeting: 'Thanks for calling Acme.',
      };
    case 'globex':
      return {
        llm: new voice.testing.FakeLLM([{ input: 'hello', content: 'Globex bookings, go ahead.' }]),
        instructions: 'You take bookings for Globex.',
      };
    case 'initech':
      return {
        llm: new voice.testing.FakeLLM([
          { input: 'hello', content: 'Initech IT, have you tried turning it off and on?' },
        ]),
      };
    case 'flaky':
      // A tenant whose provider is down: every session fails, and its breaker opens.
      return { settings: { simulateFailure: 'upstream LLM returned 503' } };
    default:
      return undefined;
  }
}

export default defineConfig({
  name: 'demo',
  agents: { demo: './examples/agents/demo-agent.ts' },
  maxConcurrentSessions: 50,
  tenants: {
    config: loadTenantConfig,
    maxSessions: { acme: 10, globex: 2, initech: 10, flaky: 5, '*': 3 },
    // A call to this number is routed to initech without any dispatch metadata.
    phoneNumbers: { '+15550100': 'initech' },
    configCache: { ttlMs: 60_000, missTtlMs: 10_000, loadTimeoutMs: 2_000 },
  },
  circuitBreaker: {
    failureRatio: 0.5,
    minSamples: 4,
    windowMs: 60_000,
    cooldownMs: 15_000,
    halfOpenProbes: 1,
  },
  drainTimeoutMs: 10_000,
});
