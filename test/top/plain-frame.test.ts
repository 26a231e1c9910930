import { describe, expect, it } from 'vitest';
import { renderPlainFrame } from '../../src/top/plain-frame.js';
import { manySessions, snapshot } from './fixtures.js';

const ANSI = /\u001b\[/;

describe('renderPlainFrame (openrtc top --once)', () => {
  it('prints the header, tenant panel, sessions and events in plain text', () => {
    const frame = renderPlainFrame(snapshot(), { sort: 'age' });
    expect(frame).not.toMatch(ANSI);
    const lines = frame.split('\n');
    expect(lines[0]).toBe('openrtc agency-eu-1 pid 4242 v0.1.0  up 1h02m');
    expect(lines[1]).toBe(
      'sessions 3/50 rsv 0  cpu 13.8%  rss 210M heap 64M  lag p99 13ms max 48ms',
    );
    expect(lines[2]).toBe('accepted 9  succeeded 4  failed 1  rejected 5  |  invalid tenant ids 3');
    expect(lines[3]).toBe('inference pid 4243  cpu 3.2%  rss 338M  up 1h02m  restarts 0  failed 0');
    expect(lines[4]).toBe('tenant all  sort age  status all');
    expect(frame).toContain('TENANT   LIVE/CAP  RSV  ACCEPT  REJECT  FAIL BREAKER');
    expect(frame).toContain('acme         2/10    0       6       2     1 closed');
    expect(frame).toContain('globex        1/2    0       0       0     0 open, 12s left (manual)');
    const rows = lines.filter((l) => l.startsWith('S'));
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual([
      'SESSION',
      'SG_gamma',
      'SA_alpha',
      'SA_beta',
    ]);
    expect(rows[0]).toBe('SESSION  TENANT AGENT   STATUS      AGE  CPU%    MEM SLOW   ROOM');
    expect(rows[1]).toBe(
      'SG_gamma globex support closing   1h01m   0.1   1.9M 210ms  room-SG_gamma',
    );
    expect(frame).toContain('3 sessions');
    expect(frame).toContain('03:04:03 breaker globex: closed -> open: manual trip');
  });

  it('shows the inference process down, off, or missing from an older worker', () => {
    const base = snapshot();
    const inference = base.worker.inference!;
    const frame = (over: Partial<typeof inference> | undefined) =>
      renderPlainFrame(
        { ...base, worker: { ...base.worker, inference: over && { ...inference, ...over } } },
        { sort: 'age', width: 120 },
      ).split('\n')[3];
    expect(
      frame({
        state: 'down',
        pid: undefined,
        restarts: 1,
        failedRequests: 12,
        lastExit: 'was killed by SIGKILL',
      }),
    ).toBe(
      'inference DOWN (was killed by SIGKILL): requests fail until it is back  restarts 1  failed 12',
    );
    expect(
      frame({
        state: 'disabled',
        runners: [],
        disabledReason: 'the inference process is disabled (inference.enabled: false)',
      }),
    ).toBe('inference off: the inference process is disabled (inference.enabled: false)');
    expect(frame(undefined)).toBe('inference: not reported by this worker');
  });

  it('with a tenant shows only that tenant: its panel row, its sessions and its events', () => {
    const frame = renderPlainFrame(snapshot(), { tenant: 'acme', sort: 'cpu' });
    expect(frame).not.toContain('globex');
    expect(frame).not.toContain('bad tenant!');
    expect(frame).toContain('reject acme: tenant_capacity');
    expect(frame).toContain('tenant acme  sort cpu  status all');
    const rows = frame.split('\n').filter((l) => l.startsWith('SA_'));
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(['SA_beta', 'SA_alpha']);
    expect(frame).toContain('2 sessions');
  });

  it('filters by status and sorts by each key', () => {
    const snap = snapshot();
    const ids = (frame: string) =>
      frame
        .split('\n')
        .filter((l) => /^S[AG]_/.test(l))
        .map((l) => l.split(/\s+/)[0]);
    expect(ids(renderPlainFrame(snap, { sort: 'age', status: 'starting' }))).toEqual(['SA_beta']);
    expect(ids(renderPlainFrame(snap, { sort: 'tenant' }))).toEqual([
      'SA_alpha',
      'SA_beta',
      'SG_gamma',
    ]);
    expect(ids(renderPlainFrame(snap, { sort: 'status' }))).toEqual([
      'SA_beta',
      'SA_alpha',
      'SG_gamma',
    ]);
    expect(ids(renderPlainFrame(snap, { sort: 'agent' }))).toEqual([
      'SA_beta',
      'SA_alpha',
      'SG_gamma',
    ]);
    expect(renderPlainFrame(snap, { sort: 'age', status: 'closing', tenant: 'acme' })).toContain(
      'no sessions',
    );
  });

  it('fits 1,000 sessions in 80 columns, one line each: ids whole, other cells squeezed', () => {
    const frame = renderPlainFrame(snapshot({ sessions: manySessions(1000) }), { sort: 'age' });
    const lines = frame.split('\n');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    const rows = lines.filter((l) => l.startsWith('S_'));
    expect(rows).toHaveLength(1000);
    expect(rows[0]).toBe(
      'S_0999_a_very_long_session_identifier globex an-ag… running  16m39s   9.1',
    );
    for (const row of rows)
      expect(row.split(' ')[0]).toMatch(/^S_\d{4}_a_very_long_session_identifier$/);
    expect(frame).toContain('1000 sessions');
  });

  it('a wider frame gets the room and job columns', () => {
    const frame = renderPlainFrame(snapshot(), { sort: 'age', width: 160 });
    expect(frame).toMatch(/^SESSION +TENANT +AGENT +STATUS +AGE +CPU% +MEM +SLOW +ROOM +JOB$/m);
    expect(frame).toMatch(/^SG_gamma +globex .* room-SG_gamma +job-SG_gamma$/m);
  });

  it('shows DRAINING and an unlimited capacity', () => {
    const snap = snapshot();
    snap.worker.draining = true;
    snap.worker.capacity = null;
    const lines = renderPlainFrame(snap, { sort: 'age' }).split('\n');
    expect(lines[0]).toContain('DRAINING');
    expect(lines[1]).toMatch(/^sessions 3\/∞ /);
  });
});
