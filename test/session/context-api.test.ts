import { describe, expect, it } from 'vitest';
import { sessionScope } from '../../src/scope/session-scope.js';
import { currentTenant, tenantProviders } from '../../src/session/context-api.js';
import type { TenantConfig } from '../../src/tenancy/types.js';

describe('context API', () => {
  it('throws a clear error outside a session', () => {
    expect(() => currentTenant()).toThrow(/outside an openrtc session/);
  });

  it("merges the tenant's slots over the agent defaults and never reads another tenant", () => {
    const defaults = {
      stt: { name: 'default-stt' },
      llm: { name: 'default-llm' },
      tts: { name: 'default-tts' },
    };
    const acmeLlm = { name: 'acme-llm' };
    const scope = (tenant: string, config: TenantConfig | undefined) => ({
      tenant,
      sessionId: `s-${tenant}`,
      jobId: 'j',
      agent: 'a',
      config,
    });
    const acme = sessionScope.run(scope('acme', { llm: acmeLlm, greeting: 'hi from acme' }), () =>
      tenantProviders(defaults),
    );
    expect(acme).toEqual({
      stt: defaults.stt,
      llm: acmeLlm,
      tts: defaults.tts,
      greeting: 'hi from acme',
    });
    const other = sessionScope.run(scope('globex', undefined), () => ({
      p: tenantProviders(defaults),
      t: currentTenant(),
    }));
    expect(other.p).toEqual({ stt: defaults.stt, llm: defaults.llm, tts: defaults.tts });
    expect(other.t).toEqual({ id: 'globex', config: undefined, sessionId: 's-globex', agent: 'a' });
  });
});
