import { configSchema } from '../../config/schema.js';
import { breakerRow } from '../../introspection/tenant-row.js';
import { EXIT } from '../../protocol/exit-codes.js';
import type { Heartbeat, HeartbeatView } from '../../store/fleet-store.js';
import type { RedisStore } from '../../store/redis-store.js';
import {
  cliActor,
  withFleetConnection,
  type FleetConnection,
  type FleetOpts,
} from '../fleet/fleet-connection.js';
import { highestCap } from '../fleet/read-fleet-view.js';
import { capLine, reloadLine, resetLine, tripLine } from '../tenant-actions.js';
import { CommandFailure } from '../worker-connection.js';

/**
 * `tenant cap/trip/reset/reload --fleet`: the action written to the store, where every worker
 * reads it, with no worker socket involved. The audit record names the OS user and the CLI.
 * Caps reach every worker at its next lease renewal (`renewIntervalMs`); a trip or a reset is the
 * fleet breaker's state itself, so every worker's next decision sees it; a reload is published
 * and every worker drops that config at once.
 */

type Opts = FleetOpts & { socket?: string | undefined };

/**
 * What the workers know of tenants, from their heartbeats: the live ones first; a worker whose
 * heartbeat just stopped (a busy loop, a slow store) still says which tenants exist.
 */
interface FleetKnowledge {
  workers: HeartbeatView[];
  overrides: Map<string, number>;
  leases: Map<string, number>;
}

async function knowledge(store: RedisStore): Promise<FleetKnowledge> {
  const [heartbeats, overrides, leases] = await Promise.all([
    store.heartbeats(),
    store.capOverrides(),
    store.leaseCounts(),
  ]);
  const live = heartbeats.filter((h) => !h.stale);
  return { workers: live.length > 0 ? live : heartbeats, overrides, leases };
}

/** As on one worker: a tenant no worker has in its config or has seen is a typo until proved otherwise. */
function requireKnown(tenant: string, k: FleetKnowledge): void {
  const known =
    k.overrides.has(tenant) ||
    k.leases.has(tenant) ||
    k.workers.some(
      (h) =>
        (h.caps !== undefined && Object.hasOwn(h.caps, tenant)) ||
        Object.hasOwn(h.sessionsByTenant, tenant),
    );
  if (known) return;
  throw new CommandFailure(
    k.workers.length === 0
      ? `unknown tenant "${tenant}": no worker in the fleet reports it (none has published a heartbeat); see openrtc tenant list --fleet`
      : `unknown tenant "${tenant}": not in the config of any worker in the fleet and no job has named it`,
  );
}

/** The configured cap the workers report (the highest, when they differ). */
function configuredCap(tenant: string, k: FleetKnowledge): number | null {
  const caps = k.workers.flatMap((h) =>
    h.caps && Object.hasOwn(h.caps, tenant) ? [h.caps[tenant]!] : [],
  );
  return highestCap(caps);
}

/**
 * The breaker settings the workers run with (a trip without `--for` holds for their cooldown);
 * the config's defaults when none reports them.
 */
function breakerSettings(k: FleetKnowledge): NonNullable<Heartbeat['breaker']> {
  const reported = k.workers.find((h) => h.breaker !== undefined)?.breaker;
  return reported ?? configSchema.shape.circuitBreaker.parse(undefined);
}

function act<T>(opts: Opts, body: (fleet: FleetConnection) => Promise<T>): Promise<T> {
  if (opts.socket !== undefined)
    throw new CommandFailure(
      '--fleet acts through Redis on every worker; --socket names one worker: give one of them',
      EXIT.usage,
    );
  return withFleetConnection(opts, body);
}

export const fleetCap = (tenant: string, cap: number | null, opts: Opts) =>
  act(opts, async ({ store }) => {
    const k = await knowledge(store);
    requireKnown(tenant, k);
    const configured = configuredCap(tenant, k);
    const old = k.overrides.get(tenant) ?? configured;
    await store.setCapOverride(tenant, cap, cliActor());
    process.stdout.write(`${capLine(tenant, old, cap ?? configured)}\n`);
  });

export const fleetTrip = (tenant: string, forMs: number | undefined, opts: Opts) =>
  act(opts, async ({ store }) => {
    const k = await knowledge(store);
    requireKnown(tenant, k);
    const settings = breakerSettings(k);
    const old = (await store.breakerView(tenant, settings)).state;
    await store.breakerTrip(tenant, forMs ?? settings.cooldownMs, cliActor(), settings);
    const now = await store.breakerView(tenant, settings);
    process.stdout.write(`${tripLine(tenant, old, breakerRow(now, Date.now()))}\n`);
  });

export const fleetReset = (tenant: string, opts: Opts) =>
  act(opts, async ({ store }) => {
    const k = await knowledge(store);
    requireKnown(tenant, k);
    const settings = breakerSettings(k);
    const old = (await store.breakerView(tenant, settings)).state;
    await store.breakerReset(tenant, cliActor(), settings);
    process.stdout.write(`${resetLine(tenant, old)}\n`);
  });

export const fleetReload = (tenant: string | null, opts: Opts) =>
  act(opts, async ({ store }) => {
    if (tenant !== null) requireKnown(tenant, await knowledge(store));
    await store.publishInvalidation(tenant, cliActor());
    process.stdout.write(`${reloadLine(tenant)}\n`);
  });
