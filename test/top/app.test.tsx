import { setTimeout as sleep } from 'node:timers/promises';
import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/top/App.js';
import { FakeSource, manySessions, snapshot } from './fixtures.js';

const DOWN = '\u001B[B';
const UP = '\u001B[A';
const PAGE_DOWN = '\u001B[6~';
const PAGE_UP = '\u001B[5~';

/** Lets React commit the update that an input or a push caused. */
const flush = () => sleep(30);

function sessionIds(frame: string | undefined): string[] {
  return (frame ?? '').split('\n').filter((l) => /^S[AG_]/.test(l)).map((l) => l.split(/\s+/)[0]!);
}

async function mount(props: Partial<Parameters<typeof App>[0]> = {}, snap = snapshot()) {
  const source = new FakeSource();
  const ui = render(<App source={source} width={80} height={24} {...props} />);
  await flush();
  source.push(snap);
  await flush();
  return { ui, source };
}

describe('top App (Ink)', () => {
  afterEach(() => cleanup());

  it('renders the header, tenants, sessions and events within 80×24', async () => {
    const { ui } = await mount();
    const frame = ui.lastFrame()!;
    const lines = frame.split('\n');
    expect(lines.length).toBeLessThanOrEqual(23);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    expect(lines[0]).toContain('openrtc agency-eu-1 pid 4242');
    expect(frame).toContain('tenant all  sort age  status all');
    expect(frame).toContain('open 12s (manual)');
    expect(sessionIds(frame)).toEqual(['SG_gamma', 'SA_alpha', 'SA_beta']);
    expect(frame).toContain('reject acme: tenant_capacity');
  });

  it('--tenant shows only that tenant: panel row, sessions and events', async () => {
    const { ui } = await mount({ tenant: 'acme' });
    const frame = ui.lastFrame()!;
    expect(frame).not.toContain('globex');
    expect(sessionIds(frame)).toEqual(['SA_alpha', 'SA_beta']);
    expect(frame).toContain('tenant acme');
  });

  it('--sort and --status props pick the initial order and filter', async () => {
    const { ui } = await mount({ sort: 'cpu', status: 'active' });
    expect(sessionIds(ui.lastFrame())).toEqual(['SA_alpha']);
    cleanup();
    const second = await mount({ sort: 'cpu' });
    expect(sessionIds(second.ui.lastFrame())).toEqual(['SA_beta', 'SA_alpha', 'SG_gamma']);
  });

  it('s cycles the sort key', async () => {
    const { ui } = await mount();
    ui.stdin.write('s');
    await flush();
    expect(ui.lastFrame()).toContain('sort cpu');
    expect(sessionIds(ui.lastFrame())).toEqual(['SA_beta', 'SA_alpha', 'SG_gamma']);
    ui.stdin.write('s');
    await flush();
    expect(ui.lastFrame()).toContain('sort tenant');
    ui.stdin.write('s');
    ui.stdin.write('s');
    ui.stdin.write('s');
    await flush();
    expect(ui.lastFrame()).toContain('sort age');
  });

  it('f cycles the status filter: all → starting → active → closing → all', async () => {
    const { ui } = await mount();
    const seen: string[][] = [];
    for (let i = 0; i < 4; i++) {
      ui.stdin.write('f');
      await flush();
      seen.push(sessionIds(ui.lastFrame()));
    }
    expect(seen).toEqual([['SA_beta'], ['SA_alpha'], ['SG_gamma'], ['SG_gamma', 'SA_alpha', 'SA_beta']]);
  });

  it('t cycles through the tenants and back to all', async () => {
    const { ui } = await mount();
    ui.stdin.write('t');
    await flush();
    expect(ui.lastFrame()).toContain('tenant acme');
    expect(ui.lastFrame()).not.toContain('globex');
    ui.stdin.write('t');
    await flush();
    expect(sessionIds(ui.lastFrame())).toEqual(['SG_gamma']);
    ui.stdin.write('t');
    await flush();
    expect(ui.lastFrame()).toContain('tenant all');
  });

  it('q quits and stops the subscription', async () => {
    const { ui, source } = await mount();
    expect(source.unsubscribed).toBe(0);
    ui.stdin.write('q');
    await flush();
    expect(source.unsubscribed).toBe(1);
  });

  it('pages through 1,000 sessions with the arrows and PageUp/PageDown, inside 80×24', async () => {
    const { ui } = await mount({}, snapshot({ sessions: manySessions(1000) }));
    const frame = ui.lastFrame()!;
    const lines = frame.split('\n');
    expect(lines.length).toBeLessThanOrEqual(23);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    const pageSize = sessionIds(frame).length;
    expect(pageSize).toBeGreaterThanOrEqual(5);
    expect(frame).toContain(`sessions 1-${pageSize} of 1000`);
    ui.stdin.write(DOWN);
    await flush();
    expect(ui.lastFrame()).toContain(`sessions 2-${pageSize + 1} of 1000`);
    ui.stdin.write(PAGE_DOWN);
    await flush();
    expect(ui.lastFrame()).toContain(`sessions ${pageSize + 2}-${2 * pageSize + 1} of 1000`);
    ui.stdin.write(UP);
    ui.stdin.write(PAGE_UP);
    await flush();
    expect(ui.lastFrame()).toContain(`sessions 1-${pageSize} of 1000`);
    for (let i = 0; i < 200; i++) ui.stdin.write(PAGE_DOWN);
    await flush();
    expect(ui.lastFrame()).toContain(`sessions ${1000 - pageSize + 1}-1000 of 1000`);
  });

  it('shows "disconnected, retrying" when the worker goes away, keeps the last data, and recovers', async () => {
    const { ui, source } = await mount();
    source.onState?.({ status: 'disconnected', reason: 'the worker closed the connection' });
    await flush();
    expect(ui.lastFrame()).toContain('disconnected, retrying… (the worker closed the connection)');
    expect(sessionIds(ui.lastFrame())).toEqual(['SG_gamma', 'SA_alpha', 'SA_beta']);
    source.push(snapshot({ sessions: [] }));
    await flush();
    expect(ui.lastFrame()).not.toContain('disconnected');
    expect(ui.lastFrame()).toContain('no sessions');
  });

  it('before any snapshot, says it is connecting, or that it is retrying', async () => {
    const source = new FakeSource();
    const ui = render(<App source={source} width={80} height={24} />);
    await flush();
    expect(ui.lastFrame()).toContain('connecting to the worker…');
    source.onState?.({ status: 'disconnected', reason: 'cannot connect' });
    await flush();
    expect(ui.lastFrame()).toContain('disconnected, retrying… (cannot connect)');
  });
});
