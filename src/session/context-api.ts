import { currentScope } from '../scope/session-scope.js';
import type { TenantConfig } from '../tenancy/types.js';

export interface CurrentTenant {
  id: string;
  /** The config resolved when this session was admitted; undefined when the tenant has none. */
  config: TenantConfig | undefined;
  sessionId: string;
  agent: string;
}

/** The tenant whose session is running this code. Throws outside a session. */
export function currentTenant(): CurrentTenant {
  const scope = currentScope();
  if (!scope) {
    throw new Error(
      'currentTenant() was called outside an openrtc session: call it from an agent entry (or code it runs), not at module load',
    );
  }
  return { id: scope.tenant, config: scope.config, sessionId: scope.sessionId, agent: scope.agent };
}

export interface ProviderDefaults {
  stt?: object;
  llm?: object;
  tts?: object;
}

export type TenantProviders<D extends ProviderDefaults> = {
  stt: D['stt'];
  llm: D['llm'];
  tts: D['tts'];
  instructions?: string;
  greeting?: string;
};

/**
 * The providers this session should use: each slot the tenant's config fills, else the agent's
 * default. Slots are typed as the defaults: a tenant's provider stands in for the same kind of
 * object. Only the current session's tenant is ever read, so one tenant's keys cannot reach
 * another tenant's call.
 */
export function tenantProviders<D extends ProviderDefaults>(defaults: D): TenantProviders<D> {
  const { config } = currentTenant();
  const result: TenantProviders<D> = {
    stt: (config?.stt ?? defaults.stt) as D['stt'],
    llm: (config?.llm ?? defaults.llm) as D['llm'],
    tts: (config?.tts ?? defaults.tts) as D['tts'],
  };
  if (config?.instructions !== undefined) result.instructions = config.instructions;
  if (config?.greeting !== undefined) result.greeting = config.greeting;
  return result;
}
