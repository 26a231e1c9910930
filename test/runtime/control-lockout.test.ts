import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_CONNECTIONS } from '../../src/ipc/ipc-server.js';
import { fixtureAgent, startRuntime, type RuntimeRig } from '../support/runtime-rig.js';

let rig: RuntimeRig | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await rig?.stop();
  rig = undefined;
});

function idle(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath, () => resolve(s));
    s.once('error', reject);
    sockets.push(s);
  });
}

describe('a worker whose control connections are all held by idle clients', () => {
  it('still takes control commands, and tells a viewer too_many_connections rather than EPIPE', async () => {
    rig = await startRuntime(
      `export default { name: 'rig', agents: { demo: ${JSON.stringify(fixtureAgent('long-call-agent'))} }, tenants: { maxSessions: { acme: 3 } } };`,
      {},
      // Long enough that the held connections outlive the commands below on a loaded machine.
      { idleTimeoutMs: 120_000 },
    );
    for (let i = 0; i < DEFAULT_MAX_CONNECTIONS; i++) await idle(rig.socketPath);
    await expect.poll(() => rig!.runtime.ipc.connectionCount).toBe(DEFAULT_MAX_CONNECTIONS);

    const trip = await rig.cli(['tenant', 'trip', 'acme', '--for', '10m']);
    expect(trip.code, trip.stderr).toBe(0);
    expect(trip.stdout).toMatch(/^acme: breaker closed -> open/);
    const list = await rig.cli(['tenant', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('acme');

    const top = await rig.cli(['top', '--json']);
    expect(top.code).toBe(1);
    expect(top.stderr).not.toMatch(/EPIPE|closed the connection/);
    // Refused at the door, or on the operator's connection (which takes control commands only):
    // either way the reason, in one line.
    expect(top.stderr.trim()).toMatch(
      /^openrtc: the worker is serving its limit of 64 control connections \(close idle "openrtc top" windows or scripts\); (try again shortly|the connection left is reserved for control commands)/,
    );
    expect(top.stderr.trim().split('\n')).toHaveLength(1);
  }, 90_000);
});
