import { parseDuration } from '../../clock/duration.js';
import { describeValue, isValidTenantId, tenantIdProblem } from '../../tenancy/tenant-id.js';
import { EXIT } from '../../protocol/exit-codes.js';
import { formatBreaker, formatTenantTable } from '../tenant-table.js';
import { callWorker, CommandFailure, runCommand } from '../worker-connection.js';

interface SocketOpts {
  socket?: string;
  json?: boolean;
}

function checkTenantId(tenant: string): void {
  if (!isValidTenantId(tenant)) {
    throw new CommandFailure(`<tenant>: ${tenantIdProblem(describeValue(tenant))}`, EXIT.usage);
  }
}

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
  opts: SocketOpts & { clear?: boolean },
) =>
  runCommand(async () => {
    checkTenantId(tenant);
    let cap: number | null;
    if (opts.clear) {
      if (n !== undefined)
        throw new CommandFailure('give either a cap or --clear, not both', EXIT.usage);
      cap = null;
    } else {
      const parsed = Number(n);
      if (n === undefined || !Number.isInteger(parsed) || parsed <= 0) {
        throw new CommandFailure(
          `cap must be a positive integer (or use --clear), got ${JSON.stringify(n ?? '')}`,
          EXIT.usage,
        );
      }
      cap = parsed;
    }
    const result = await callWorker(opts.socket, 'tenant.cap', { tenant, cap });
    process.stdout.write(`${tenant}: cap ${result.old ?? 'none'} -> ${result.cap ?? 'none'}\n`);
  });

export const tenantTrip = (tenant: string, opts: SocketOpts & { for?: string }) =>
  runCommand(async () => {
    checkTenantId(tenant);
    let forMs: number | undefined;
    if (opts.for !== undefined) {
      forMs = parseDuration(opts.for);
      if (forMs === undefined)
        throw new CommandFailure(
          `--for must be a duration such as 90s, 10m or 1h, got ${JSON.stringify(opts.for)}`,
          EXIT.usage,
        );
    }
    const result = await callWorker(opts.socket, 'tenant.trip', {
      tenant,
      ...(forMs ? { forMs } : {}),
    });
    process.stdout.write(`${tenant}: breaker ${result.old} -> ${formatBreaker(result.breaker)}\n`);
  });

export const tenantReset = (tenant: string, opts: SocketOpts) =>
  runCommand(async () => {
    checkTenantId(tenant);
    const result = await callWorker(opts.socket, 'tenant.reset', { tenant });
    process.stdout.write(`${tenant}: breaker ${result.old} -> closed\n`);
  });

export const tenantReload = (tenant: string | undefined, opts: SocketOpts & { all?: boolean }) =>
  runCommand(async () => {
    const all = opts.all === true;
    if (all === (tenant !== undefined)) {
      throw new CommandFailure(
        all ? 'give a tenant or --all, not both' : 'give a tenant, or --all for every tenant',
        EXIT.usage,
      );
    }
    if (tenant !== undefined) checkTenantId(tenant);
    await callWorker(
      opts.socket,
      'tenant.reload',
      tenant !== undefined ? { tenant } : { all: true },
    );
    process.stdout.write(
      tenant !== undefined
        ? `${tenant}: cached config dropped; the next session loads it fresh\n`
        : 'all cached tenant configs dropped\n',
    );
  });
