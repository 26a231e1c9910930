import { errorMessage } from '../../errors/describe-error.js';
import { EXIT } from '../../protocol/exit-codes.js';
import { renderFleetFrame } from '../../top/fleet/fleet-frame.js';
import { pollingFleetSource } from '../../top/fleet/fleet-source.js';
import { parseTopOptions } from '../../top/options.js';
import { forgetContinuousIntegration } from '../../top/run-top.js';
import { colorEnabled } from '../color.js';
import {
  openFleetConnection,
  type FleetConnection,
  type FleetOpts,
} from '../fleet/fleet-connection.js';
import { readFleetView } from '../fleet/read-fleet-view.js';
import { CommandFailure } from '../worker-connection.js';
import type { TopCommandOptions } from './top.js';

/** Flags of `top` that belong to one worker's session table, which the fleet view does not have. */
const ONE_WORKER_FLAGS = [
  ['socket', '--socket names one worker'],
  ['sort', '--sort orders one worker’s sessions'],
  ['status', '--status filters one worker’s sessions'],
] as const;

/**
 * `openrtc top --fleet`: the fleet read from Redis, live on a terminal, else one plain frame (or
 * `--json`, the same view `tenant list --fleet --json` prints). Returns the exit code.
 */
export async function fleetTopCommand(opts: TopCommandOptions & FleetOpts): Promise<number> {
  for (const [flag, what] of ONE_WORKER_FLAGS)
    if (opts[flag] !== undefined) {
      process.stderr.write(`openrtc: ${what}; top --fleet shows every worker: drop it\n`);
      return EXIT.usage;
    }
  const parsed = parseTopOptions({
    tenant: opts.tenant,
    refreshRate: Number(opts.refreshRate),
    once: opts.once,
    json: opts.json,
  });
  if (!parsed.ok) {
    process.stderr.write(`openrtc: ${parsed.error}\n`);
    return EXIT.usage;
  }
  const o = parsed.options;
  let fleet: FleetConnection;
  try {
    fleet = await openFleetConnection(opts);
  } catch (err) {
    process.stderr.write(`openrtc: ${errorMessage(err)}\n`);
    return err instanceof CommandFailure ? err.exitCode : EXIT.failure;
  }
  try {
    if (o.json || o.once || process.stdout.isTTY !== true) {
      const view = await readFleetView(fleet);
      process.stdout.write(
        o.json
          ? `${JSON.stringify(view, null, 2)}\n`
          : renderFleetFrame(view, { width: process.stdout.columns || 120, tenant: o.tenant }),
      );
      return EXIT.ok;
    }
    forgetContinuousIntegration(process.env);
    const { runFleetLiveView } = await import('../../top/live-view.js');
    await runFleetLiveView({
      source: pollingFleetSource(() => readFleetView(fleet), 1000 / o.refreshRate),
      tenant: o.tenant,
      color: colorEnabled(process.stdout),
      stdout: process.stdout,
      stdin: process.stdin,
    });
    return EXIT.ok;
  } catch (err) {
    process.stderr.write(`openrtc: the fleet store did not answer: ${errorMessage(err)}\n`);
    return EXIT.failure;
  } finally {
    await fleet.store.close();
  }
}
