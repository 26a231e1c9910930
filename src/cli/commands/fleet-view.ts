import { renderFleetFrame } from '../../top/fleet/fleet-frame.js';
import { withFleetConnection, type FleetOpts } from '../fleet/fleet-connection.js';
import { readFleetView } from '../fleet/read-fleet-view.js';
import { runCommand } from '../worker-connection.js';

/** `tenant list --fleet`: live/cap per tenant across the fleet, one row per worker. */
export const fleetTenantList = (opts: FleetOpts & { json?: boolean }) =>
  runCommand(async () => {
    const view = await withFleetConnection(opts, readFleetView);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      return;
    }
    // The same tables as `top --fleet --once`, as wide as the terminal (a pipe gets every column).
    process.stdout.write(renderFleetFrame(view, { width: process.stdout.columns || 160 }));
  });
