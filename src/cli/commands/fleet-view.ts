import { DEFAULT_KEY_PREFIX } from '../../store/redis-keys.js';
import { RedisStore } from '../../store/redis-store.js';
import { REDIS_URL_ENV } from '../../runtime/fleet-setup.js';
import { EXIT } from '../../protocol/exit-codes.js';
import { CommandFailure, runCommand } from '../worker-connection.js';

export interface FleetOpts {
  redis?: string;
  keyPrefix?: string;
  json?: boolean;
}

/** Reads the fleet straight from Redis: no worker socket needed. */
export async function withFleetStore<T>(
  opts: FleetOpts,
  act: (store: RedisStore) => Promise<T>,
): Promise<T> {
  const url = opts.redis ?? process.env[REDIS_URL_ENV];
  if (!url) throw new CommandFailure(`--fleet needs --redis URL or ${REDIS_URL_ENV}`, EXIT.usage);
  const store = await RedisStore.connect({
    url,
    keyPrefix: opts.keyPrefix ?? DEFAULT_KEY_PREFIX,
    timeoutMs: 2_000,
  }).catch((err: unknown) => {
    throw new CommandFailure(err instanceof Error ? err.message : String(err), EXIT.failure);
  });
  try {
    return await act(store);
  } finally {
    await store.close();
  }
}

/** `tenant list --fleet`: active/cap per tenant across the fleet, one row per worker. */
export const fleetTenantList = (opts: FleetOpts) =>
  runCommand(async () => {
    const view = await withFleetStore(opts, async (store) => {
      const [leases, overrides, workers] = await Promise.all([
        store.leaseCounts(),
        store.capOverrides(),
        store.heartbeats(),
      ]);
      const names = [...new Set([...leases.keys(), ...overrides.keys()])].sort();
      return {
        tenants: names.map((tenant) => ({
          tenant,
          active: leases.get(tenant) ?? 0,
          capOverride: overrides.get(tenant) ?? null,
        })),
        workers,
      };
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      return;
    }
    const lines = ['TENANT                 FLEET ACTIVE  CAP OVERRIDE'];
    for (const t of view.tenants)
      lines.push(
        `${t.tenant.padEnd(22)} ${String(t.active).padStart(12)}  ${t.capOverride ?? '-'}`,
      );
    lines.push(
      '',
      'WORKER                                   HOST         PID  SESSIONS  LOOP P99  STATE',
    );
    for (const w of view.workers) {
      const sessions = Object.values(w.sessionsByTenant).reduce((a, b) => a + b, 0);
      const state = w.stale ? 'HEARTBEAT STOPPED' : w.draining ? 'draining' : 'ok';
      lines.push(
        `${w.worker.padEnd(40)} ${w.host.slice(0, 12).padEnd(12)} ${String(w.pid).padStart(6)} ${String(sessions).padStart(9)} ${`${Math.round(w.loopP99Ms)} ms`.padStart(9)}  ${state}`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  });
