import { AsyncLocalStorage } from 'node:async_hooks';
import type { TenantConfig } from '../tenancy/types.js';

/**
 * The identity of the session whose code is running. Set once by the session host around an
 * agent's entry; everything that runs in that async tree (timers, promises, provider callbacks)
 * inherits it. Logs, loop-block attribution and uncaught-error attribution all read it here.
 */
export interface SessionScope {
  tenant: string;
  sessionId: string;
  jobId: string;
  agent: string;
  /** Resolved at admission; the session keeps it even if the tenant's config is reloaded. */
  config: TenantConfig | undefined;
}

export const sessionScope = new AsyncLocalStorage<SessionScope>();

export function currentScope(): SessionScope | undefined {
  return sessionScope.getStore();
}
