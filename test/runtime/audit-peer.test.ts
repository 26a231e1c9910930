import { afterEach, describe, expect, it } from 'vitest';
import { rawClient } from '../ipc/helpers.js';
import { fixtureAgent, startRuntime, type RuntimeRig } from '../support/runtime-rig.js';

let rig: RuntimeRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

const auditLines = (r: RuntimeRig) => r.log.lines().filter((l) => l.audit === true);

describe('the audit trail of control commands', () => {
  it('records who acted from the kernel (SO_PEERCRED), never from what the client claims', async () => {
    rig = await startRuntime(
      `export default { name: 'rig', agents: { demo: ${JSON.stringify(fixtureAgent('long-call-agent'))} }, tenants: { maxSessions: { acme: 3 } } };`,
    );
    const liar = await rawClient(rig.socketPath);
    liar.send(
      `${JSON.stringify({ v: 1, id: 1, method: 'tenant.cap', params: { tenant: 'acme', cap: 4, who: { uid: 4242, pid: 1 } } })}\n`,
    );
    expect(await liar.next()).toMatchObject({ id: 1, result: { tenant: 'acme', cap: 4 } });
    liar.socket.destroy();
    expect(auditLines(rig)).toEqual([
      expect.objectContaining({
        action: 'tenant.cap',
        tenant: 'acme',
        old: 3,
        new: 4,
        who: {
          source: 'SO_PEERCRED',
          uid: process.getuid!(),
          gid: process.getgid!(),
          pid: process.pid,
        },
      }),
    ]);

    const trip = await rig.cli(['tenant', 'trip', 'acme']);
    expect(trip.code, trip.stderr).toBe(0);
    const tripped = auditLines(rig).find((l) => l.action === 'tenant.trip') as
      { who: { source: string; uid: number; pid: number } } | undefined;
    expect(tripped?.who.source).toBe('SO_PEERCRED');
    expect(tripped?.who.uid).toBe(process.getuid!());
    // The CLI is another process: the kernel names it, not this one.
    expect(tripped?.who.pid).not.toBe(process.pid);
    expect(tripped?.who.pid).toBeGreaterThan(0);
  }, 30_000);
});
