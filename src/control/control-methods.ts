import { z } from 'zod';
import type { ConfigReload } from '../config/config-diff.js';
import type { TenantStats } from '../admission/types.js';
import { redactText } from '../secrets/redact-text.js';
import { isValidTenantId } from '../tenancy/tenant-id.js';
import type { CallContext } from '../ipc/protocol.js';
import { auditWho, type AuditSink } from './audit.js';

/** What the control methods act on: the live worker, seen through a narrow window. */
export interface ControlTarget {
  tenantStats(): TenantStats[];
  /** Rejections decided before a tenant was known (malformed ids, draining), by reason. */
  rejectedWithoutTenant(): Record<string, number>;
  workerInfo(): WorkerInfo;
  tenantStat(tenant: string): TenantStats | undefined;
  /** Seen by admission, or named in the config (caps or a config record). */
  knownTenant(tenant: string): boolean;
  configuredCap(tenant: string): number | null;
  setTenantCap(tenant: string, cap: number | null): void;
  tripBreaker(tenant: string, forMs?: number): void;
  resetBreaker(tenant: string): void;
  invalidateTenantConfig(tenant: string): void;
  invalidateAllTenantConfigs(): void;
  describeTenantConfig(tenant: string): unknown;
  drain(timeoutMs?: number): {
    alreadyDraining: boolean;
    activeSessions: number;
    timeoutMs: number;
  };
  reloadConfig(): Promise<ConfigReload>;
}

/** Who the worker is, and where its local dispatcher listens (`openrtc dev` only). */
export interface WorkerInfo {
  name: string;
  pid: number;
  version: string;
  /** The embedded dispatcher's URL, or null when the worker runs against a LiveKit server. */
  localDispatcherUrl: string | null;
}

/** A request the worker refuses; `code` is stable for scripts, `message` is for people. */
export class ControlError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const tenantParam = z.string({ error: 'params.tenant: expected a tenant id' });

const schemas = {
  'worker.info': z.object({}).passthrough(),
  'tenant.list': z.object({}).passthrough(),
  'tenant.show': z.object({ tenant: tenantParam }),
  'tenant.cap': z.object({
    tenant: tenantParam,
    cap: z.union([z.number().int().positive(), z.null()], {
      error: 'params.cap: expected a positive integer, or null to clear',
    }),
  }),
  'tenant.trip': z.object({
    tenant: tenantParam,
    forMs: z
      .number()
      .int()
      .positive({ error: 'params.forMs: expected a positive number of milliseconds' })
      .optional(),
  }),
  'tenant.reset': z.object({ tenant: tenantParam }),
  'tenant.reload': z.union(
    [z.object({ tenant: tenantParam }), z.object({ all: z.literal(true) })],
    {
      error: 'params: expected { tenant } or { all: true }',
    },
  ),
  drain: z.object({ timeoutMs: z.number().nonnegative().optional() }),
  'config.reload': z.object({}),
} as const;

export type ControlMethod = keyof typeof schemas;
export const CONTROL_METHODS = Object.keys(schemas) as ControlMethod[];

function parse<M extends ControlMethod>(method: M, params: unknown): z.infer<(typeof schemas)[M]> {
  const result = schemas[method].safeParse(params ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.length ? `params.${issue.path.join('.')}: ` : '';
    const message = issue?.message ?? 'invalid params';
    throw new ControlError(
      'bad_request',
      message.startsWith('params') ? message : `${path}${message}`,
    );
  }
  return result.data as z.infer<(typeof schemas)[M]>;
}

function requireTenant(target: ControlTarget, tenant: string): string {
  if (!isValidTenantId(tenant)) {
    throw new ControlError(
      'invalid_tenant',
      `invalid tenant id ${JSON.stringify(String(tenant).slice(0, 40))}: expected 1-128 letters, digits, "-" or "_"`,
    );
  }
  if (!target.knownTenant(tenant)) {
    throw new ControlError(
      'unknown_tenant',
      `unknown tenant "${tenant}": not in the config and no job has named it on this worker`,
    );
  }
  return tenant;
}

/**
 * The runbook actions. Each validates its params, acts on the live worker, and writes one audit
 * record with the old and new value.
 */
export function controlMethods(
  target: ControlTarget,
  audit: AuditSink,
): Record<ControlMethod, (params: unknown, ctx: CallContext) => Promise<unknown>> {
  const who = async (ctx: CallContext) => auditWho(await ctx.peer());
  return {
    'worker.info': async (params) => {
      parse('worker.info', params);
      return target.workerInfo();
    },
    'tenant.list': async (params) => {
      parse('tenant.list', params);
      return {
        tenants: target.tenantStats(),
        rejectedWithoutTenant: target.rejectedWithoutTenant(),
      };
    },
    'tenant.show': async (params) => {
      const { tenant } = parse('tenant.show', params);
      requireTenant(target, tenant);
      return {
        stats: target.tenantStat(tenant) ?? null,
        configuredCap: target.configuredCap(tenant),
        config: target.describeTenantConfig(tenant),
      };
    },
    'tenant.cap': async (params, ctx) => {
      const p = parse('tenant.cap', params);
      const actor = await who(ctx);
      const tenant = requireTenant(target, p.tenant);
      const old = target.tenantStat(tenant)?.cap ?? target.configuredCap(tenant);
      target.setTenantCap(tenant, p.cap);
      const now = target.tenantStat(tenant)?.cap ?? target.configuredCap(tenant);
      audit.record({
        action: p.cap === null ? 'tenant.cap.clear' : 'tenant.cap',
        tenant,
        old,
        new: now,
        who: actor,
      });
      return { tenant, old, cap: now };
    },
    'tenant.trip': async (params, ctx) => {
      const p = parse('tenant.trip', params);
      const actor = await who(ctx);
      const tenant = requireTenant(target, p.tenant);
      const old = target.tenantStat(tenant)?.breaker.state ?? 'closed';
      target.tripBreaker(tenant, p.forMs);
      const breaker = target.tenantStat(tenant)?.breaker;
      audit.record({ action: 'tenant.trip', tenant, old, new: breaker?.state, who: actor });
      return { tenant, old, breaker };
    },
    'tenant.reset': async (params, ctx) => {
      const p = parse('tenant.reset', params);
      const actor = await who(ctx);
      const tenant = requireTenant(target, p.tenant);
      const old = target.tenantStat(tenant)?.breaker.state ?? 'closed';
      target.resetBreaker(tenant);
      audit.record({ action: 'tenant.reset', tenant, old, new: 'closed', who: actor });
      return { tenant, old, breaker: target.tenantStat(tenant)?.breaker };
    },
    'tenant.reload': async (params, ctx) => {
      const p = parse('tenant.reload', params);
      const actor = await who(ctx);
      if ('all' in p) {
        target.invalidateAllTenantConfigs();
        audit.record({ action: 'tenant.reload.all', who: actor });
        return { all: true };
      }
      const tenant = requireTenant(target, p.tenant);
      target.invalidateTenantConfig(tenant);
      audit.record({ action: 'tenant.reload', tenant, who: actor });
      return { tenant };
    },
    drain: async (params, ctx) => {
      const p = parse('drain', params);
      const actor = await who(ctx);
      const result = target.drain(p.timeoutMs);
      audit.record({ action: 'drain', old: result.alreadyDraining, new: true, who: actor });
      return result;
    },
    'config.reload': async (params, ctx) => {
      parse('config.reload', params);
      const actor = await who(ctx);
      let result;
      try {
        result = await target.reloadConfig();
      } catch (err) {
        throw new ControlError(
          'config_invalid',
          redactText(err instanceof Error ? err.message : String(err)),
        );
      }
      audit.record({ action: 'config.reload', new: result.changed, who: actor });
      return result;
    },
  };
}
