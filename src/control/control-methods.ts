import type { ConfigReload } from '../config/config-diff.js';
import type { TenantStats } from '../admission/types.js';
import { errorMessage } from '../errors/describe-error.js';
import type { SnapshotV1 } from '../introspection/snapshot-schema.js';
import { tenantRow } from '../introspection/tenant-row.js';
import { ControlError } from '../ipc/control-error.js';
import { describeValue, isValidTenantId, tenantIdProblem } from '../tenancy/tenant-id.js';
import type { CallContext } from '../ipc/protocol.js';
import { auditWho, type AuditSink } from './audit.js';
import { parseParams as parse, type ControlMethod, type ControlResult } from './contract.js';

/** What the control methods act on: the live worker, seen through a narrow window. */
export interface ControlTarget {
  /** Epoch ms, for the breakers' remaining time. */
  now(): number;
  snapshot(): SnapshotV1;
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
  describeTenantConfig(tenant: string): ControlResult<'tenant.show'>['config'];
  drain(timeoutMs?: number): ControlResult<'drain'>;
  reloadConfig(): Promise<ConfigReload>;
}

/** Who the worker is, and where its local dispatcher listens (`openrtc dev` only). */
export type WorkerInfo = ControlResult<'worker.info'>;

function requireTenant(target: ControlTarget, tenant: string): string {
  if (!isValidTenantId(tenant)) {
    throw new ControlError(
      'invalid_tenant',
      `params.tenant: ${tenantIdProblem(describeValue(tenant))}`,
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

/** Each method's handler; the compiler holds every answer to the contract's result type. */
export type ControlHandlers = {
  [M in ControlMethod]: (params: unknown, ctx: CallContext) => Promise<ControlResult<M>>;
};

/**
 * The control methods: the snapshot and the runbook actions. Each validates its params against
 * the contract; each action acts on the live worker and writes one audit record with the old and
 * new value.
 */
export function controlMethods(target: ControlTarget, audit: AuditSink): ControlHandlers {
  const who = async (ctx: CallContext) => auditWho(await ctx.peer());
  const row = (tenant: string) => {
    const stats = target.tenantStat(tenant);
    return stats ? tenantRow(stats, target.now()) : undefined;
  };
  const breakerOf = (tenant: string) => {
    const breaker = row(tenant)?.breaker;
    // A tenant with no row yet has the closed breaker every tenant starts with.
    return breaker ?? { state: 'closed' as const, probesInFlight: 0 };
  };
  return {
    snapshot: async (params) => {
      parse('snapshot', params);
      return target.snapshot();
    },
    'worker.info': async (params) => {
      parse('worker.info', params);
      return target.workerInfo();
    },
    'tenant.list': async (params) => {
      parse('tenant.list', params);
      const now = target.now();
      return {
        tenants: target.tenantStats().map((t) => tenantRow(t, now)),
        rejectedWithoutTenant: target.rejectedWithoutTenant(),
      };
    },
    'tenant.show': async (params) => {
      const { tenant } = parse('tenant.show', params);
      requireTenant(target, tenant);
      return {
        stats: row(tenant) ?? null,
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
      const old = breakerOf(tenant).state;
      target.tripBreaker(tenant, p.forMs);
      const breaker = breakerOf(tenant);
      audit.record({ action: 'tenant.trip', tenant, old, new: breaker.state, who: actor });
      return { tenant, old, breaker };
    },
    'tenant.reset': async (params, ctx) => {
      const p = parse('tenant.reset', params);
      const actor = await who(ctx);
      const tenant = requireTenant(target, p.tenant);
      const old = breakerOf(tenant).state;
      target.resetBreaker(tenant);
      audit.record({ action: 'tenant.reset', tenant, old, new: 'closed', who: actor });
      return { tenant, old, breaker: breakerOf(tenant) };
    },
    'tenant.reload': async (params, ctx) => {
      const p = parse('tenant.reload', params);
      const actor = await who(ctx);
      if ('all' in p) {
        target.invalidateAllTenantConfigs();
        audit.record({ action: 'tenant.reload.all', who: actor });
        return { all: true as const };
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
        throw new ControlError('config_invalid', errorMessage(err));
      }
      audit.record({ action: 'config.reload', new: result.changed, who: actor });
      return result;
    },
  };
}
