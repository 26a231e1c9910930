import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import type { FleetView } from '../../src/introspection/fleet-view.js';
import { FleetApp } from '../../src/top/fleet/FleetApp.js';
import { renderFleetFrame } from '../../src/top/fleet/fleet-frame.js';
import type { FleetSource, FleetSourceState } from '../../src/top/fleet/fleet-source.js';
import { until } from '../support/conditions.js';

/** A source the test pushes views and states into. */
class FakeFleetSource implements FleetSource {
  onView: ((v: FleetView) => void) | undefined;
  onState: ((s: FleetSourceState) => void) | undefined;
  subscribe(onView: (v: FleetView) => void, onState: (s: FleetSourceState) => void) {
    this.onView = onView;
    this.onState = onState;
    onState({ status: 'connecting' });
    return () => {
      this.onView = undefined;
      this.onState = undefined;
    };
  }
  push(view: FleetView) {
    this.onView?.(view);
    this.onState?.({ status: 'ok' });
  }
}

function fleetView(over: Partial<FleetView> = {}): FleetView {
  return {
    readAt: Date.UTC(2026, 0, 2, 3, 4, 5),
    store: {
      kind: 'redis',
      url: 'redis://10.0.0.5:6379',
      keyPrefix: 'openrtc:',
      state: 'ok',
      readMs: 1.4,
    },
    tenants: [
      { tenant: 'acme', live: 20, cap: 20, capOverride: null },
      { tenant: 'globex', live: 1, cap: 4, capOverride: 4 },
      { tenant: 'initech', live: 0, cap: 10, capOverride: null, capsDiffer: [5, 10] },
    ],
    workers: [
      {
        worker: 'eu-1-box-a-101-abc123',
        name: 'eu-1',
        host: 'box-a',
        pid: 101,
        draining: false,
        sessionsByTenant: { acme: 12, globex: 1 },
        sessions: 13,
        loopP99Ms: 4.2,
        heartbeatAgeMs: 1_000,
        stopped: false,
      },
      {
        worker: 'eu-1-box-b-202-def456',
        name: 'eu-1',
        host: 'box-b',
        pid: 202,
        draining: false,
        sessionsByTenant: { acme: 8 },
        sessions: 8,
        loopP99Ms: 31,
        heartbeatAgeMs: 95_000,
        stopped: true,
      },
    ],
    totals: { live: 21, workers: 2, stopped: 1, draining: 0 },
    audit: [
      {
        at: Date.UTC(2026, 0, 2, 3, 0, 0),
        action: 'cap',
        tenant: 'globex',
        detail: '4',
        worker: 'cli@ops-host pid 77',
        operator: 'alice (uid 1000)',
        source: 'cli',
      },
    ],
    ...over,
  };
}

type Ui = { lastFrame(): string | undefined };

function frameWhere(ui: Ui, predicate: (frame: string) => boolean, what: string): Promise<string> {
  const frame = () => ui.lastFrame() ?? '';
  return until(
    what,
    () => predicate(frame()) && frame(),
    5_000,
    () => `last frame:\n${frame()}`,
  );
}

async function mount(view = fleetView(), tenant?: string) {
  const source = new FakeFleetSource();
  const ui = render(<FleetApp source={source} width={100} height={24} tenant={tenant} />);
  await frameWhere(ui, (f) => f.includes('reading the fleet store'), 'the connecting line');
  await until('the app to subscribe', () => source.onView !== undefined);
  source.push(view);
  await frameWhere(ui, (f) => f.includes('openrtc fleet'), 'the first view');
  return { ui, source };
}

afterEach(() => cleanup());

describe('openrtc top --fleet (live view)', () => {
  it('shows per-tenant live/cap across the fleet, one row per worker, stopped heartbeats and the store', async () => {
    const { ui } = await mount();
    const frame = ui.lastFrame()!;
    const lines = frame.split('\n');
    expect(lines[0]).toContain('openrtc fleet  redis://10.0.0.5:6379 prefix openrtc:  store ok');
    expect(lines[1]).toContain('workers 1 live, 1 HEARTBEAT STOPPED, 0 draining  sessions 21');
    const row = (text: string) => lines.find((l) => l.startsWith(text)) ?? '';
    expect(row('acme')).toMatch(/acme\s+20\/20\s+-\s+AT CAP/);
    expect(row('globex')).toMatch(/globex\s+1\/4\s+4/);
    // Workers that disagree on a cap (a rolling deploy) are shown, not averaged away.
    expect(row('initech')).toContain('0/10 (workers: 5, 10)');
    const workers = lines.filter((l) => l.startsWith('eu-1'));
    expect(workers).toHaveLength(2);
    expect(workers[0]).toMatch(/box-a\s+101\s+13\s+4\.2ms\s+serving\s+acme 12, globex 1/);
    expect(workers[1]).toMatch(/box-b\s+202\s+8\s+-\s+HEARTBEAT STOPPED 1m35s ago/);
    expect(frame).toContain('recent operator actions');
    expect(frame).toContain('cap globex 4  by alice (uid 1000) from the CLI (cli@ops-host pid 77)');
    // Every line fits the terminal; the frame fills it.
    expect(lines).toHaveLength(24);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(100);
  });

  it('t cycles through the tenants: one tenant’s row, and only its sessions on each worker', async () => {
    const { ui } = await mount();
    ui.stdin.write('t');
    const acme = await frameWhere(ui, (f) => f.includes('tenant acme'), 'the acme filter');
    expect(acme).not.toMatch(/^globex/m);
    expect(acme).toMatch(/box-a\s+101\s+12\s/);
    ui.stdin.write('t');
    await frameWhere(ui, (f) => f.includes('tenant globex'), 'the globex filter');
    ui.stdin.write('t');
    await frameWhere(ui, (f) => f.includes('tenant initech'), 'the initech filter');
    ui.stdin.write('t');
    await frameWhere(ui, (f) => f.includes('tenant all'), 'all tenants again');
  });

  it('a store that stops answering is said plainly over the last frame; a fresh read clears it', async () => {
    const { ui, source } = await mount();
    source.onState?.({
      status: 'unreachable',
      reason: 'Redis did not answer: connect ECONNREFUSED',
    });
    const down = await frameWhere(ui, (f) => f.includes('STORE UNREACHABLE'), 'the banner');
    expect(down).toContain(
      'Redis did not answer: connect ECONNREFUSED (last frame, dimmed; retrying)',
    );
    expect(down).toContain('eu-1');
    source.push(fleetView({ totals: { live: 21, workers: 2, stopped: 1, draining: 0 } }));
    await frameWhere(ui, (f) => !f.includes('STORE UNREACHABLE'), 'the banner gone');
  });

  it('a degraded store and a draining worker are marked', async () => {
    const view = fleetView({
      store: { ...fleetView().store, state: 'degraded' },
      totals: { live: 21, workers: 2, stopped: 1, draining: 1 },
    });
    view.workers[0]!.draining = true;
    const { ui } = await mount(view);
    const frame = ui.lastFrame()!;
    expect(frame).toContain('STORE DEGRADED');
    expect(frame).toMatch(/box-a\s+101\s+13\s+4\.2ms\s+draining/);
  });

  it('a fleet with no workers and no tenants says so', async () => {
    const { ui } = await mount(
      fleetView({
        tenants: [],
        workers: [],
        audit: [],
        totals: { live: 0, workers: 0, stopped: 0, draining: 0 },
      }),
    );
    const frame = ui.lastFrame()!;
    expect(frame).toContain('no tenants yet');
    expect(frame).toContain('no worker has published a heartbeat');
  });

  it('on a short terminal the tables give way with a count, and the keys stay', async () => {
    const many = fleetView({
      tenants: Array.from({ length: 30 }, (_, i) => ({
        tenant: `t${String(i).padStart(2, '0')}`,
        live: i,
        cap: 30,
        capOverride: null,
      })),
    });
    const source = new FakeFleetSource();
    const ui = render(<FleetApp source={source} width={80} height={14} />);
    await until('the app to subscribe', () => source.onView !== undefined);
    source.push(many);
    const frame = await frameWhere(ui, (f) => f.includes('more tenants'), 'the overflow line');
    const lines = frame.split('\n');
    expect(lines).toHaveLength(14);
    expect(lines.at(-1)).toContain('q quit');
    expect(frame).toContain('eu-1');
  });
});

describe('the plain fleet frame (top --fleet --once, tenant list --fleet)', () => {
  it('has every row, no escape codes, and the worker ids on a wide line', () => {
    const text = renderFleetFrame(fleetView(), { width: 200 });
    expect(text).not.toContain('\u001b[');
    expect(text).toContain('eu-1-box-b-202-def456');
    expect(text).toContain('HEARTBEAT STOPPED');
    for (const l of text.trimEnd().split('\n')) expect(l).toBe(l.trimEnd());
  });

  it('with a tenant: that tenant alone, and stopped workers still listed', () => {
    const text = renderFleetFrame(fleetView(), { width: 120, tenant: 'globex' });
    expect(text).not.toMatch(/^acme/m);
    expect(text).toMatch(/^globex/m);
    expect(text).toMatch(/box-a\s+101\s+1\s/);
    expect(text).toContain('HEARTBEAT STOPPED');
  });
});
