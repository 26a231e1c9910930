import { statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ControlError } from '../../src/ipc/control-error.js';
import { IpcClient } from '../../src/ipc/ipc-client.js';
import { IpcServer } from '../../src/ipc/ipc-server.js';
import { defineMethod, type Handler } from '../../src/ipc/protocol.js';
import { until } from '../support/conditions.js';
import { rawClient, silentLogger, tempRuntimeDir } from './helpers.js';

const handlers: Record<string, Handler> = {
  snapshot: () => ({ n: 1 }),
  echo: defineMethod(z.strictObject({ text: z.string() }), (p) => ({ text: p.text })),
  refuse: () => {
    throw new ControlError('unknown_tenant', 'unknown tenant "zzz"');
  },
  crash: () => {
    throw new Error('secret internals at /srv/app.ts:12');
  },
};

describe('IpcServer over a real Unix socket', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  async function start(opts: Partial<Parameters<typeof IpcServer.listen>[0]> = {}) {
    const rt = tempRuntimeDir();
    cleanups.push(rt.remove);
    const server = await IpcServer.listen({
      socketPath: path.join(rt.dir, 'w-1.sock'),
      handlers,
      logger: silentLogger,
      ...opts,
    });
    cleanups.push(() => server.close());
    return { server, dir: rt.dir };
  }

  async function client(socketPath: string) {
    const c = await rawClient(socketPath);
    cleanups.push(() => c.socket.destroy());
    return c;
  }

  it('creates the socket 0600 inside a 0700 directory and removes it on close', async () => {
    const { server, dir } = await start();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(server.socketPath).mode & 0o777).toBe(0o600);
    await server.close();
    expect(() => statSync(server.socketPath)).toThrow(/ENOENT/);
  });

  it('answers requests by id, and reports handler errors by code without leaking internals', async () => {
    const { server } = await start();
    const c = await IpcClient.connect(server.socketPath);
    cleanups.push(() => c.close());
    expect(await c.request('echo', { text: 'hi' })).toEqual({ text: 'hi' });
    await expect(c.request('echo', { text: 3 })).rejects.toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/^params\.text: /),
    });
    await expect(c.request('refuse')).rejects.toMatchObject({
      code: 'unknown_tenant',
      message: 'unknown tenant "zzz"',
    });
    const err = (await c.request('crash').catch((e: unknown) => e)) as ControlError;
    expect(err).toBeInstanceOf(ControlError);
    expect(err.code).toBe('internal');
    expect(err.message).toBe('internal error in "crash"');
    await expect(c.request('nope')).rejects.toMatchObject({
      code: 'unknown_method',
      message: 'unknown method "nope"',
    });
  });

  it('answers malformed input with an error and keeps serving that client and others', async () => {
    const { server } = await start();
    const a = await client(server.socketPath);
    const b = await client(server.socketPath);
    a.send('{not json\n');
    expect(await a.next()).toEqual({
      v: 1,
      id: null,
      error: { code: 'bad_json', message: 'request is not valid JSON' },
    });
    a.send(`${JSON.stringify({ v: 2, id: 7, method: 'snapshot' })}\n`);
    expect(await a.next()).toMatchObject({ v: 1, id: 7, error: { code: 'unsupported_version' } });
    a.send(`${JSON.stringify({ v: 1, id: 8 })}\n`);
    const bad = await a.next();
    expect(bad).toMatchObject({ id: 8, error: { code: 'bad_request' } });
    expect((bad.error as { message: string }).message).toMatch(/^request\.method: /);
    a.send(`${JSON.stringify({ v: 1, id: 9, method: 'nope' })}\n`);
    expect(await a.next()).toMatchObject({ id: 9, error: { code: 'unknown_method' } });
    a.send(`${JSON.stringify({ v: 1, id: 10, method: 'snapshot' })}\n`);
    expect(await a.next()).toEqual({ v: 1, id: 10, result: { n: 1 } });
    b.send(`${JSON.stringify({ v: 1, id: 'x', method: 'snapshot' })}\n`);
    expect(await b.next()).toEqual({ v: 1, id: 'x', result: { n: 1 } });
  });

  it('answers a too-long line with line_too_long, closes that client only', async () => {
    const { server } = await start({ maxLineBytes: 1024 });
    const a = await client(server.socketPath);
    const b = await client(server.socketPath);
    a.send('x'.repeat(700));
    a.send('y'.repeat(700));
    expect(await a.next()).toEqual({
      v: 1,
      id: null,
      error: { code: 'line_too_long', message: 'request line longer than 1024 bytes' },
    });
    await a.closed;
    b.send(`${JSON.stringify({ v: 1, id: 1, method: 'snapshot' })}\n`);
    expect(await b.next()).toMatchObject({ id: 1, result: { n: 1 } });
  });

  it('refuses connections beyond maxConnections with an error, and accepts again when one leaves', async () => {
    const { server } = await start({ maxConnections: 2 });
    const a = await client(server.socketPath);
    await client(server.socketPath);
    const c = await client(server.socketPath);
    expect(await c.next()).toMatchObject({ id: null, error: { code: 'too_many_connections' } });
    await c.closed;
    await expect(
      IpcClient.connect(server.socketPath).then((cl) => cl.request('snapshot')),
    ).rejects.toMatchObject({ code: 'too_many_connections' });
    a.socket.destroy();
    await a.closed;
    await until('the server to forget the closed connection', () => server.connectionCount === 1);
    const d = await IpcClient.connect(server.socketPath);
    cleanups.push(() => d.close());
    expect(await d.request('snapshot')).toEqual({ n: 1 });
  });

  it('closes a connection that sends no request within idleTimeoutMs, and never one that is subscribed or waiting', async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const { server } = await start({
      idleTimeoutMs: 200,
      handlers: { ...handlers, slow: () => slow.then(() => 'done') },
    });
    const silent = await client(server.socketPath);
    const subscribed = await client(server.socketPath);
    const waiting = await client(server.socketPath);
    subscribed.send(
      `${JSON.stringify({ v: 1, id: 's', method: 'subscribe', params: { intervalMs: 100 } })}\n`,
    );
    waiting.send(`${JSON.stringify({ v: 1, id: 'w', method: 'slow' })}\n`);
    expect(await silent.next()).toEqual({
      v: 1,
      id: null,
      error: {
        code: 'idle_timeout',
        message: 'no request within 200 ms; closing this control connection',
      },
    });
    await silent.closed;
    // A probe opened now times out after the others would have: once it has, they had their chance.
    const probe = await client(server.socketPath);
    expect(await probe.next()).toMatchObject({ id: null, error: { code: 'idle_timeout' } });
    await probe.closed;
    expect(server.connectionCount).toBe(2);
    release();
    expect(await waiting.next()).toEqual({ v: 1, id: 'w', result: 'done' });
    expect((await subscribed.next()).id).toBe('s');
    // Once answered, the waiting connection is idle again, and goes the same way.
    expect(await waiting.next()).toMatchObject({ id: null, error: { code: 'idle_timeout' } });
    await waiting.closed;
    expect(server.connectionCount).toBe(1);
  });

  it('caps the subscriptions one connection may hold', async () => {
    const { server } = await start({ maxSubscriptionsPerConnection: 2 });
    const c = await client(server.socketPath);
    const sub = (id: number) =>
      c.send(
        `${JSON.stringify({ v: 1, id, method: 'subscribe', params: { intervalMs: 60_000 } })}\n`,
      );
    sub(1);
    sub(2);
    sub(3);
    const answers = [await c.next(), await c.next(), await c.next()].sort(
      (a, b) => Number(a.id) - Number(b.id),
    );
    expect(answers.map((a) => a.id)).toEqual([1, 2, 3]);
    expect(answers.slice(0, 2).every((a) => 'result' in a)).toBe(true);
    expect(answers[2]).toEqual({
      v: 1,
      id: 3,
      error: {
        code: 'too_many_subscriptions',
        message: 'a control connection may hold at most 2 subscriptions',
      },
    });
  });

  it('answers the connection limit with a coded error, by request id too, before closing', async () => {
    const { server } = await start({ maxConnections: 1, operatorConnections: 0 });
    await client(server.socketPath);
    const over = await client(server.socketPath);
    over.send(`${JSON.stringify({ v: 1, id: 5, method: 'snapshot' })}\n`);
    expect(await over.next()).toMatchObject({ id: null, error: { code: 'too_many_connections' } });
    expect(await over.next()).toMatchObject({ id: 5, error: { code: 'too_many_connections' } });
    await over.closed;
    const c = await IpcClient.connect(server.socketPath);
    const err = await c.request('snapshot').catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'too_many_connections',
      message: expect.stringContaining('1 control connections'),
    });
  });

  it('keeps a reserved connection for control methods only, one request each, when the others are taken', async () => {
    const { server } = await start({
      maxConnections: 2,
      operatorConnections: 1,
      operatorMethods: new Set(['echo']),
    });
    await client(server.socketPath);
    await client(server.socketPath);
    const op = await client(server.socketPath);
    op.send(`${JSON.stringify({ v: 1, id: 1, method: 'echo', params: { text: 'trip acme' } })}\n`);
    expect(await op.next()).toEqual({ v: 1, id: 1, result: { text: 'trip acme' } });
    await op.closed;
    const viewer = await client(server.socketPath);
    viewer.send(`${JSON.stringify({ v: 1, id: 2, method: 'snapshot' })}\n`);
    const refused = await viewer.next();
    expect(refused).toMatchObject({ id: 2, error: { code: 'too_many_connections' } });
    expect((refused.error as { message: string }).message).toMatch(/reserved for control commands/);
    await viewer.closed;
  });

  it('pushes snapshots to a subscriber, reusing the subscribe id, and validates intervalMs', async () => {
    let n = 0;
    const { server } = await start({ handlers: { snapshot: () => ({ n: ++n }) } });
    const a = await client(server.socketPath);
    a.send(
      `${JSON.stringify({ v: 1, id: 's', method: 'subscribe', params: { intervalMs: 100 } })}\n`,
    );
    expect(await a.next()).toEqual({ v: 1, id: 's', result: { n: 1 } });
    expect(await a.next()).toEqual({ v: 1, id: 's', result: { n: 2 } });
    a.send(
      `${JSON.stringify({ v: 1, id: 't', method: 'subscribe', params: { intervalMs: 5 } })}\n`,
    );
    const err = await a.next();
    expect(err).toMatchObject({ id: 't', error: { code: 'bad_request' } });
    expect((err.error as { message: string }).message).toMatch(/^params\.intervalMs: /);
  });

  it('builds one snapshot for subscribers whose pushes are due together', async () => {
    let builds = 0;
    const { server } = await start({ handlers: { snapshot: () => ({ build: ++builds }) } });
    const a = await client(server.socketPath);
    const b = await client(server.socketPath);
    const sub = (id: string) =>
      `${JSON.stringify({ v: 1, id, method: 'subscribe', params: { intervalMs: 1000 } })}\n`;
    a.send(sub('a'));
    expect(await a.next()).toEqual({ v: 1, id: 'a', result: { build: 1 } });
    b.send(sub('b'));
    const fromB = await b.next();
    expect(fromB.id).toBe('b');
    // Within the sharing window B gets A's snapshot; otherwise a fresh one. Either way, one per window.
    expect([{ build: 1 }, { build: 2 }]).toContainEqual(fromB.result);
    expect(builds).toBe((fromB.result as { build: number }).build);
  });

  it('drops a subscriber that stops reading once its queue exceeds maxQueuedBytes', async () => {
    const big = { blob: 'z'.repeat(200_000) };
    const warnings: string[] = [];
    const { server } = await start({
      maxQueuedBytes: 300_000,
      handlers: { snapshot: () => big },
      logger: { warn: (_o, msg) => warnings.push(msg), error: () => undefined },
    });
    const slow = await client(server.socketPath);
    slow.socket.pause();
    slow.send(
      `${JSON.stringify({ v: 1, id: 1, method: 'subscribe', params: { intervalMs: 100 } })}\n`,
    );
    await until('the slow reader to be dropped', () => server.connectionCount === 0, 10_000);
    expect(warnings).toContain('dropping a control client that does not read its output');
    const fast = await IpcClient.connect(server.socketPath);
    cleanups.push(() => fast.close());
    expect(await fast.request('snapshot')).toEqual(big);
  });

  it('answers a response larger than the output limit with response_too_large, and keeps the client', async () => {
    const warnings: { obj: object; msg: string }[] = [];
    const { server } = await start({
      maxQueuedBytes: 10_000,
      handlers: { snapshot: () => ({ blob: 'z'.repeat(50_000) }), small: () => ({ ok: true }) },
      logger: { warn: (obj, msg) => warnings.push({ obj, msg }), error: () => undefined },
    });
    const c = await client(server.socketPath);
    c.send(`${JSON.stringify({ v: 1, id: 1, method: 'snapshot' })}\n`);
    const answer = await c.next();
    expect(answer).toMatchObject({ id: 1, error: { code: 'response_too_large' } });
    expect((answer.error as { message: string }).message).toMatch(
      /^the answer to "snapshot" is \d+ bytes, more than the 10000 bytes a control client may have queued$/,
    );
    c.send(`${JSON.stringify({ v: 1, id: 2, method: 'small' })}\n`);
    expect(await c.next()).toEqual({ v: 1, id: 2, result: { ok: true } });
    expect(warnings.map((w) => w.msg)).not.toContain(
      'dropping a control client that does not read its output',
    );
    expect(warnings).toEqual([
      {
        obj: { method: 'snapshot', bytes: expect.any(Number), limit_bytes: 10_000 },
        msg: 'a control answer is larger than the per-client output limit; answered response_too_large',
      },
    ]);
  });

  it('lets the client subscribe and see pushes, and reports a lost worker', async () => {
    let n = 0;
    const { server } = await start({ handlers: { snapshot: () => ({ n: ++n }) } });
    const c = await IpcClient.connect(server.socketPath);
    cleanups.push(() => c.close());
    const seen: unknown[] = [];
    await c.subscribe(100, (s) => seen.push(s));
    expect(seen).toEqual([{ n: 1 }]);
    await until('a pushed snapshot after the first', () => seen.length >= 2);
    expect(seen.slice(0, 2)).toEqual([{ n: 1 }, { n: 2 }]);
    const closed = new Promise<Error | undefined>((resolve) => c.onClose(resolve));
    await server.close();
    expect((await closed)?.message).toBe('the worker closed the connection');
    await expect(c.request('snapshot')).rejects.toMatchObject({ code: 'connection_lost' });
  });

  it('gives a clear error when nothing listens', async () => {
    const rt = tempRuntimeDir();
    cleanups.push(rt.remove);
    await expect(IpcClient.connect(path.join(rt.dir, 'none-1.sock'))).rejects.toThrow(
      /cannot connect to .*none-1\.sock: no such socket/,
    );
  });
});
