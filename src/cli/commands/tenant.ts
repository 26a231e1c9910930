import type { FleetOpts } from '../fleet/fleet-connection.js';
import {
  capArgument,
  capLine,
  checkTenantId,
  reloadArgument,
  reloadLine,
  resetLine,
  tripForArgument,
  tripLine,
} from '../tenant-actions.js';
import { formatBreaker, formatTenantTable } from '../tenant-table.js';
import { callWorker, runCommand } from '../worker-connection.js';

interface SocketOpts {
  socket?: string;
  json?: boolean;
}

/** The actions take `--fleet` to act on every worker through the store instead of one socket. */
type ActionOpts = SocketOpts & FleetOpts & { fleet?: boolean };

/** The store's client loads only for `--fleet`. */
const fleetControl = () => import('./fleet-control.js');

function print(value: unknown, json: boolean | undefined, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

export const tenantList = (opts: SocketOpts) =>
  runCommand(async () => {
    const result = await callWorker(opts.socket, 'tenant.list');
    print(result, opts.json, () => formatTenantTable(result.tenants, result.rejectedWithoutTenant));
  });

export const tenantShow = (tenant: string, opts: SocketOpts) =>
  runCommand(async () => {
    checkTenantId(tenant);
    const result = await callWorker(opts.socket, 'tenant.show', { tenant });
    print(result, opts.json, () => {
      const s = result.stats;
      const lines = [`tenant ${tenant}`];
      if (s) {
        const rejected = Object.entries(s.rejected).filter(([, n]) => n > 0);
        lines.push(
          `  sessions   ${s.live} live, ${s.reserved} reserved, cap ${s.cap ?? 'none'} (configured ${result.configuredCap ?? 'none'})`,
          `  totals     ${s.accepted} accepted, ${s.started ?? 0} started, ${s.succeeded} succeeded (${s.maxDurationEnded ?? 0} ended at maxSessionDurationMs), ${s.failed} failed`,
          `  rejected   ${rejected.length ? rejected.map(([r, n]) => `${r}=${n}`).join(' ') : 'none'}`,
          `  breaker    ${formatBreaker(s.breaker)}`,
        );
      } else {
        lines.push(`  no jobs yet; configured cap ${result.configuredCap ?? 'none'}`);
      }
      const c = result.config;
      lines.push(
        `  config     source ${c.source}, ${c.cached ? `cached ${Math.round((c.ageMs ?? 0) / 1000)} s ago${c.hit === false ? ' (no config: agent defaults)' : ''}` : 'not cached'}`,
      );
      return lines.join('\n');
    });
  });

export const tenantCap = (
  tenant: string,
  n: string | undefined,
  opts: ActionOpts & { clear?: boolean },
) =>
  runCommand(async () => {
    checkTenantId(tenant);
    const cap = capArgument(n, opts.clear);
    if (opts.fleet) return (await fleetControl()).fleetCap(tenant, cap, opts);
    const result = await callWorker(opts.socket, 'tenant.cap', { tenant, cap });
    process.stdout.write(`${capLine(tenant, result.old, result.cap)}\n`);
  });

export const tenantTrip = (tenant: string, opts: ActionOpts & { for?: string }) =>
  runCommand(async () => {
    checkTenantId(tenant);
    const forMs = tripForArgument(opts.for);
    if (opts.fleet) return (await fleetControl()).fleetTrip(tenant, forMs, opts);
    const result = await callWorker(opts.socket, 'tenant.trip', {
      tenant,
      ...(forMs ? { forMs } : {}),
    });
    process.stdout.write(`${tripLine(tenant, result.old, result.breaker)}\n`);
  });

export const tenantReset = (tenant: string, opts: ActionOpts) =>
  runCommand(async () => {
    checkTenantId(tenant);
    if (opts.fleet) return (await fleetControl()).fleetReset(tenant, opts);
    const result = await callWorker(opts.socket, 'tenant.reset', { tenant });
    process.stdout.write(`${resetLine(tenant, result.old)}\n`);
  });

export const tenantReload = (tenant: string | undefined, opts: ActionOpts & { all?: boolean }) =>
  runCommand(async () => {
    const target = reloadArgument(tenant, opts.all);
    if (opts.fleet) return (await fleetControl()).fleetReload(target, opts);
    await callWorker(
      opts.socket,
      'tenant.reload',
      target !== null ? { tenant: target } : { all: true },
    );
    process.stdout.write(`${reloadLine(target)}\n`);
  });
