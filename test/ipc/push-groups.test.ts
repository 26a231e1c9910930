import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IpcServer, type IpcLogger } from '../../src/ipc/ipc-server.js';
import { PushGroups, type Subscriber } from '../../src/ipc/push-groups.js';
import type { Handler } from '../../src/ipc/protocol.js';
import { until } from '../support/conditions.js';
import { rawClient, silentLogger, tempRuntimeDir } from './helpers.js';

interface Sub extends Subscriber {
  name: string;
}

describe('PushGroups', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function groups() {
    const calls: { method: string; due: string[] }[] = [];
    let release: (() => void) | undefined;
    let hold = false;
    const g = new PushGroups<Sub>((method, due) => {
      calls.push({ method, due: due.map((s) => s.name) });
      return hold ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
    });
    return { g, calls, holdPushes: (on: boolean) => (hold = on), release: () => release?.() };
  }

  const sub = (name: string, intervalMs = 100, method = 'snapshot'): Sub => ({
    name,
    method,
    intervalMs,
    lastPushAt: performance.now() - intervalMs,
  });

  it('hands every due member of one method and interval to a single push per tick', async () => {
    vi.useFakeTimers();
    const { g, calls } = groups();
    for (const name of ['a', 'b', 'c']) g.add(sub(name));
    g.add(sub('slow', 1_000));
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toEqual([{ method: 'snapshot', due: ['a', 'b', 'c'] }]);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(2);
  });

  it('lets a member pushed less than half an interval ago wait for the next tick', async () => {
    vi.useFakeTimers();
    const { g, calls } = groups();
    g.add(sub('old'));
    await vi.advanceTimersByTimeAsync(90);
    g.add({ ...sub('new'), lastPushAt: performance.now() });
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toEqual([{ method: 'snapshot', due: ['old'] }]);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls[1]).toEqual({ method: 'snapshot', due: ['old', 'new'] });
  });

  it('does not stack a tick on a push still being produced', async () => {
    vi.useFakeTimers();
    const { g, calls, holdPushes, release } = groups();
    g.add(sub('a'));
    holdPushes(true);
    await vi.advanceTimersByTimeAsync(300);
    expect(calls).toHaveLength(1);
    release();
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toHaveLength(2);
  });

  it('stops the timer when the last member leaves', async () => {
    vi.useFakeTimers();
    const { g, calls } = groups();
    const a = sub('a');
    const b = sub('b');
    g.add(a);
    g.add(b);
    g.delete(a);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toEqual([{ method: 'snapshot', due: ['b'] }]);
    g.delete(b);
    g.delete(b);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('IpcServer pushes to many subscribers', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  async function start(handlers: Record<string, Handler>, logger: IpcLogger = silentLogger) {
    const rt = tempRuntimeDir();
    cleanups.push(rt.remove);
    const server = await IpcServer.listen({
      socketPath: path.join(rt.dir, 'w-1.sock'),
      handlers,
      logger,
    });
    cleanups.push(() => server.close());
    return server;
  }

  /** Subscribed a little apart, so that timers of their own would fire at different times. */
  async function subscribers(socketPath: string, n: number) {
    const clients = [];
    for (let i = 0; i < n; i++) {
      if (i > 0) await sleep(10);
      const c = await rawClient(socketPath);
      cleanups.push(() => c.socket.destroy());
      c.send(
        `${JSON.stringify({ v: 1, id: `s${i}`, method: 'subscribe', params: { intervalMs: 100 } })}\n`,
      );
      expect((await c.next()).id).toBe(`s${i}`);
      clients.push(c);
    }
    return clients;
  }

  it('builds one result per tick for all subscribers, and none once they are gone', async () => {
    let builds = 0;
    const server = await start({ snapshot: () => ({ build: ++builds }) });
    const clients = await subscribers(server.socketPath, 10);
    const before = builds;
    const pushes = 5;
    const seen = await Promise.all(
      clients.map(async (c) => Promise.all(Array.from({ length: pushes }, () => c.next()))),
    );
    // Five pushes each to ten subscribers: one build per tick (one tick more for a late joiner).
    expect(builds - before).toBeLessThanOrEqual(pushes + 1);
    for (const received of seen)
      for (const push of received)
        expect(push).toMatchObject({ v: 1, result: { build: expect.any(Number) } });
    for (const c of clients) c.socket.destroy();
    await Promise.all(clients.map((c) => c.closed));
    await until('the server to forget the subscribers', () => server.connectionCount === 0);
    const after = builds;
    // A probe in a group of its own (another interval): while it gets two pushes, the departed
    // subscribers' group would have ticked at least twice, so every build since must be the probe's.
    const probe = await rawClient(server.socketPath);
    cleanups.push(() => probe.socket.destroy());
    probe.send(
      `${JSON.stringify({ v: 1, id: 'p', method: 'subscribe', params: { intervalMs: 101 } })}\n`,
    );
    const probeBuilds: number[] = [];
    for (let i = 0; i < 3; i++)
      probeBuilds.push(((await probe.next()).result as { build: number }).build);
    const newBuilds = probeBuilds.filter((b) => b > after);
    expect(builds - after).toBe(new Set(newBuilds).size);
  });

  it('answers every subscriber when a build fails, logging the failure once per build', async () => {
    const logged: string[] = [];
    let calls = 0;
    const server = await start(
      {
        snapshot: () => {
          calls += 1;
          throw new Error('secret internals');
        },
      },
      { warn: () => undefined, error: (_o, msg) => logged.push(msg) },
    );
    const clients = await subscribers(server.socketPath, 5);
    const callsBefore = calls;
    const loggedBefore = logged.length;
    const next = await Promise.all(clients.map((c) => c.next()));
    for (const [i, msg] of next.entries())
      expect(msg).toEqual({
        v: 1,
        id: `s${i}`,
        error: { code: 'internal', message: 'internal error in "snapshot"' },
      });
    expect(calls - callsBefore).toBeLessThanOrEqual(2);
    expect(logged.length - loggedBefore).toBe(calls - callsBefore);
  });
});
