import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/top/App.js';
import { KEY_BINDINGS } from '../../src/top/keys.js';
import { FakeSource, manySessions, session, snapshot, tenant } from './fixtures.js';
import { until } from '../support/conditions.js';
import { renderSized } from './sized-render.js';

const DOWN = '\u001B[B';
const UP = '\u001B[A';
const PAGE_DOWN = '\u001B[6~';
const PAGE_UP = '\u001B[5~';
const HOME = '\u001B[H';
const END = '\u001B[F';
const ESC = '\u001B';

type Ui = { lastFrame(): string | undefined };

/** Waits until the rendered frame satisfies `predicate`; fails with the last frame if it never does. */
function frameWhere(
  ui: Ui,
  predicate: (frame: string) => boolean,
  what = 'the expected frame',
): Promise<string> {
  const frame = () => ui.lastFrame() ?? '';
  return until(
    what,
    () => predicate(frame()) && frame(),
    5_000,
    () => `last frame:\n${frame()}`,
  );
}

const has = (text: string) => (frame: string) => frame.includes(text);

function sessionIds(frame: string | undefined): string[] {
  return (frame ?? '')
    .split('\n')
    .filter((l) => /^S[AG_]/.test(l))
    .map((l) => l.split(/\s+/)[0]!);
}

async function mount(props: Partial<Parameters<typeof App>[0]> = {}, snap = snapshot()) {
  const source = new FakeSource();
  const ui = render(<App source={source} width={80} height={24} {...props} />);
  await frameWhere(ui, has('connecting to the worker…'));
  await waitForSubscriber(source);
  source.push(snap);
  await frameWhere(ui, has(`pid ${snap.worker.pid}`), 'the first snapshot');
  return { ui, source };
}

/** The App in a terminal of a given size that it reads itself (and follows when resized), with 100 sessions. */
async function mountSized(columns: number, rows: number) {
  const source = new FakeSource();
  const ui = renderSized(<App source={source} />, columns, rows);
  await waitForSubscriber(source);
  source.push(snapshot({ sessions: manySessions(100) }));
  return { ui, frame: await frameWhere(ui, has('pid 4242')) };
}

/** The App subscribes in an effect, after its first frame. */
async function waitForSubscriber(source: FakeSource): Promise<void> {
  await until('the App to subscribe', () => source.onSnapshot !== undefined, 5_000);
}

describe('top App (Ink)', () => {
  afterEach(() => cleanup());

  it('fills 80×24 exactly: header, totals, tenants, sessions and events', async () => {
    const { ui } = await mount();
    const frame = ui.lastFrame()!;
    const lines = frame.split('\n');
    expect(lines).toHaveLength(24);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    expect(lines[0]).toContain('openrtc agency-eu-1 pid 4242');
    expect(frame).toContain('tenant all  sort age  status all');
    expect(frame).toContain('open, 12s left (manual)');
    expect(sessionIds(frame)).toEqual(['SG_gamma', 'SA_alpha', 'SA_beta']);
    expect(frame).toContain('reject acme: tenant_capacity');
    expect(lines.at(-1)).toContain('? help');
  });

  it('counts malformed tenant ids in the header totals, never as a tenant row or in the tenant cycle', async () => {
    const { ui } = await mount();
    const frame = ui.lastFrame()!;
    expect(frame.split('\n')[2]).toBe(
      'accepted 9  succeeded 4  failed 1  rejected 5  |  invalid tenant ids 3',
    );
    expect(frame).not.toContain('(invalid)');
    const seen: string[] = [];
    for (const expected of ['tenant acme ', 'tenant globex ', 'tenant all ']) {
      ui.stdin.write('t');
      seen.push((await frameWhere(ui, has(expected))).split('\n')[4]!.split('  ')[0]!);
    }
    expect(seen).toEqual(['tenant acme', 'tenant globex', 'tenant all']);
  });

  it('spells out a half-open breaker', async () => {
    const snap = snapshot({
      tenants: [
        tenant('acme', { breaker: { state: 'half_open', probesInFlight: 0 } }),
        tenant('globex', { breaker: { state: 'half_open', probesInFlight: 1 } }),
      ],
    });
    const { ui } = await mount({}, snap);
    const frame = ui.lastFrame()!;
    expect(frame).toContain('half-open, 0 probes in flight');
    expect(frame).toContain('half-open, 1 probe in flight');
    expect(frame).not.toMatch(/half-open p\d/);
  });

  it('shows the inference process in the header, and when it goes down', async () => {
    const { ui, source } = await mount();
    expect(ui.lastFrame()!.split('\n')[3]).toContain('inference pid 4243  cpu 3.2%  rss 338M');
    const snap = snapshot();
    source.push({
      ...snap,
      worker: {
        ...snap.worker,
        inference: {
          ...snap.worker.inference!,
          state: 'down',
          pid: undefined,
          restarts: 1,
          failedRequests: 7,
          lastExit: 'was killed by SIGKILL',
        },
      },
    });
    const lines = (await frameWhere(ui, has('inference DOWN'))).split('\n');
    expect(lines[3]).toContain('inference DOWN (was killed by SIGKILL)');
    expect(lines).toHaveLength(24);
  });

  it("--tenant shows only that tenant: its row, its sessions, and its events and the worker's, not other tenants' or malformed ids'", async () => {
    const { ui } = await mount({ tenant: 'acme' });
    const frame = ui.lastFrame()!;
    expect(frame).not.toContain('globex');
    expect(frame).not.toContain('bad tenant!');
    expect(frame).toContain('reject acme: tenant_capacity');
    expect(frame).toContain('config: config reloaded');
    expect(sessionIds(frame)).toEqual(['SA_alpha', 'SA_beta']);
    expect(frame).toContain('tenant acme');
  });

  it('--sort and --status props pick the initial order and filter', async () => {
    const { ui } = await mount({ sort: 'cpu', status: 'running' });
    expect(sessionIds(ui.lastFrame())).toEqual(['SA_alpha']);
    cleanup();
    const second = await mount({ sort: 'cpu' });
    expect(sessionIds(second.ui.lastFrame())).toEqual(['SA_beta', 'SA_alpha', 'SG_gamma']);
  });

  it('s cycles the sort key', async () => {
    const { ui } = await mount();
    ui.stdin.write('s');
    const cpu = await frameWhere(ui, has('sort cpu'));
    expect(sessionIds(cpu)).toEqual(['SA_beta', 'SA_alpha', 'SG_gamma']);
    ui.stdin.write('s');
    await frameWhere(ui, has('sort tenant'));
    ui.stdin.write('s');
    ui.stdin.write('s');
    ui.stdin.write('s');
    await frameWhere(ui, has('sort age'));
  });

  it('f cycles the status filter: all → starting → running → closing → all', async () => {
    const { ui } = await mount();
    const seen: string[][] = [];
    for (const state of ['starting', 'running', 'closing', 'all']) {
      ui.stdin.write('f');
      seen.push(sessionIds(await frameWhere(ui, has(`status ${state}`))));
    }
    expect(seen).toEqual([
      ['SA_beta'],
      ['SA_alpha'],
      ['SG_gamma'],
      ['SG_gamma', 'SA_alpha', 'SA_beta'],
    ]);
  });

  it('? and h open a help overlay listing every key; ?, h and Esc close it', async () => {
    const { ui } = await mount();
    ui.stdin.write('?');
    const help = await frameWhere(ui, has('keys (press ?, h or Esc to close)'));
    for (const b of KEY_BINDINGS) expect(help).toContain(`${b.keys}`);
    for (const key of ['q', 's', 'f', 't', '↑ ↓', 'PgUp PgDn', 'Home End', 'Esc', 'Ctrl+C'])
      expect(help).toContain(key);
    expect(help.split('\n')).toHaveLength(24);
    expect(sessionIds(help)).toEqual([]);
    ui.stdin.write('?');
    await frameWhere(ui, (f) => sessionIds(f).length === 3, 'the tables again after ?');
    ui.stdin.write('h');
    await frameWhere(ui, has('keys (press ?, h or Esc to close)'));
    ui.stdin.write(ESC);
    await frameWhere(ui, (f) => sessionIds(f).length === 3, 'the tables again after Esc');
    ui.stdin.write('h');
    await frameWhere(ui, has('keys (press ?, h or Esc to close)'));
    ui.stdin.write('h');
    await frameWhere(ui, (f) => sessionIds(f).length === 3, 'the tables again after h');
  });

  it('q quits and stops the subscription', async () => {
    const { ui, source } = await mount();
    expect(source.unsubscribed).toBe(0);
    ui.stdin.write('q');
    await until('the App to unsubscribe', () => source.unsubscribed > 0, 5_000);
    expect(source.unsubscribed).toBe(1);
  });

  it('keeps session ids whole at 80 columns, giving way with the other columns', async () => {
    const { ui } = await mount({}, snapshot({ sessions: manySessions(30) }));
    const lines = ui.lastFrame()!.split('\n');
    const rows = lines.filter((l) => l.startsWith('S_'));
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) {
      expect(row.length).toBeLessThanOrEqual(80);
      expect(row.split(/\s+/)[0]).toMatch(/^S_\d{4}_a_very_long_session_identifier$/);
    }
    const header = lines.find((l) => l.startsWith('SESSION'))!;
    expect(header).toMatch(/TENANT/);
    expect(header).not.toMatch(/ROOM|JOB/);
  });

  it('at 200×50 the session table grows: more rows, and the room and job columns', async () => {
    const { ui, frame } = await mountSized(200, 50);
    ui.unmount();
    const lines = frame.split('\n');
    expect(lines).toHaveLength(50);
    const header = lines.find((l) => l.startsWith('SESSION'))!;
    expect(header).toMatch(/\bROOM\b/);
    expect(header).toMatch(/\bJOB\b/);
    const rows = lines.filter((l) => l.startsWith('S_'));
    expect(rows.length).toBeGreaterThanOrEqual(30);
    expect(rows[0]).toContain('room-S_');
    expect(Math.max(...lines.map((l) => l.length))).toBeGreaterThan(120);
  });

  it('follows the terminal when it is resized, redrawing every line at the new size', async () => {
    const { ui, frame: small } = await mountSized(80, 24);
    expect(small.split('\n')).toHaveLength(24);
    for (const l of small.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
    ui.resize(200, 50);
    const big = await frameWhere(ui, (f) => f.split('\n').length === 50, 'a 50-line frame');
    expect(big.split('\n').filter((l) => l.startsWith('S_')).length).toBeGreaterThanOrEqual(30);
    ui.resize(80, 24);
    const again = await frameWhere(ui, (f) => f.split('\n').length === 24, 'a 24-line frame');
    for (const l of again.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
    ui.unmount();
  });

  it('pages through 1,000 sessions with the arrows, PageUp/PageDown and Home/End, inside 80×24', async () => {
    const { ui } = await mount({}, snapshot({ sessions: manySessions(1000) }));
    const frame = ui.lastFrame()!;
    const lines = frame.split('\n');
    expect(lines).toHaveLength(24);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    const pageSize = sessionIds(frame).length;
    expect(pageSize).toBeGreaterThanOrEqual(5);
    expect(frame).toContain(`sessions 1-${pageSize} of 1000`);
    ui.stdin.write(DOWN);
    await frameWhere(ui, has(`sessions 2-${pageSize + 1} of 1000`));
    ui.stdin.write(PAGE_DOWN);
    await frameWhere(ui, has(`sessions ${pageSize + 2}-${2 * pageSize + 1} of 1000`));
    ui.stdin.write(UP);
    ui.stdin.write(PAGE_UP);
    await frameWhere(ui, has(`sessions 1-${pageSize} of 1000`));
    ui.stdin.write(END);
    await frameWhere(ui, has(`sessions ${1000 - pageSize + 1}-1000 of 1000`));
    ui.stdin.write(HOME);
    await frameWhere(ui, has(`sessions 1-${pageSize} of 1000`));
    for (let i = 0; i < 200; i++) ui.stdin.write(PAGE_DOWN);
    await frameWhere(ui, has(`sessions ${1000 - pageSize + 1}-1000 of 1000`));
  });

  it('says plainly when the worker exited, keeps its last frame, and names the new pid when a new worker attaches', async () => {
    const { ui, source } = await mount();
    source.lose('the worker closed the connection', false);
    const lost = await frameWhere(
      ui,
      has('worker agency-eu-1 pid 4242: connection lost, retrying…'),
    );
    expect(lost.split('\n')[4]).toContain('(the worker closed');
    source.lose('no openrtc worker is running', true);
    const gone = await frameWhere(ui, has('worker agency-eu-1 pid 4242 exited'));
    expect(gone.split('\n')[4]).toBe(
      'worker agency-eu-1 pid 4242 exited; waiting for a new one (last frame, dimmed)',
    );
    expect(sessionIds(gone)).toEqual(['SG_gamma', 'SA_alpha', 'SA_beta']);

    const next = snapshot({ sessions: [session('SA_new', 'acme')] });
    next.worker.pid = 5151;
    source.push(next);
    const back = await frameWhere(
      ui,
      has('new worker: agency-eu-1 is now pid 5151 (was pid 4242)'),
    );
    expect(sessionIds(back)).toEqual(['SA_new']);
    expect(back.split('\n')[0]).toContain('pid 5151');
  });

  it('the new-worker banner goes away by itself', async () => {
    const { ui, source } = await mount({ bannerMs: 50 });
    const next = snapshot();
    next.worker.pid = 777;
    source.push(next);
    await frameWhere(ui, has('is now pid 777'));
    await frameWhere(
      ui,
      has('tenant all  sort age  status all'),
      'the filter line back after the banner',
    );
  });

  it('before any snapshot, says it is connecting, or that it cannot reach a worker', async () => {
    const source = new FakeSource();
    const ui = render(<App source={source} width={80} height={24} />);
    await frameWhere(ui, has('connecting to the worker…'));
    await waitForSubscriber(source);
    source.lose('cannot connect', false);
    const frame = await frameWhere(ui, has('cannot reach a worker, retrying… (cannot connect)'));
    expect(frame.split('\n')).toHaveLength(24);
  });

  it('renders the same rows with colours off (NO_COLOR)', async () => {
    const { ui } = await mount({ color: false });
    expect(sessionIds(ui.lastFrame())).toEqual(['SG_gamma', 'SA_alpha', 'SA_beta']);
    expect(ui.lastFrame()).not.toMatch(/\u001B\[/);
  });
});
