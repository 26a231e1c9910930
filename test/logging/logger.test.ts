import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { sessionScope } from '../../src/scope/session-scope.js';
import { knownSecrets } from '../../src/secrets/known-secrets.js';

function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { logger: createLogger({ destination, level: 'debug' }), lines };
}

describe('createLogger', () => {
  it('tags every line written inside a session scope, including from timers and promises', async () => {
    const { logger, lines } = memoryLogger();
    const scope = {
      tenant: 'acme',
      sessionId: 'S1',
      jobId: 'J1',
      agent: 'demo',
      config: undefined,
    };
    await sessionScope.run(scope, async () => {
      logger.info('direct');
      await new Promise<void>((resolve) =>
        setTimeout(() => (logger.info('from timer'), resolve()), 1),
      );
      await Promise.resolve().then(() => logger.warn('from promise'));
    });
    logger.info('outside');
    expect(lines.map((l) => [l.msg, l.tenant, l.session_id, l.agent])).toEqual([
      ['direct', 'acme', 'S1', 'demo'],
      ['from timer', 'acme', 'S1', 'demo'],
      ['from promise', 'acme', 'S1', 'demo'],
      ['outside', undefined, undefined, undefined],
    ]);
  });

  it('keeps two concurrent sessions apart', async () => {
    const { logger, lines } = memoryLogger();
    const run = (tenant: string) =>
      sessionScope.run(
        { tenant, sessionId: `S-${tenant}`, jobId: 'J', agent: 'demo', config: undefined },
        async () => {
          for (let i = 0; i < 5; i++) {
            await new Promise((r) => setImmediate(r));
            logger.info({ i }, tenant);
          }
        },
      );
    await Promise.all([run('acme'), run('globex')]);
    expect(lines).toHaveLength(10);
    for (const l of lines) expect(l.tenant).toBe(l.msg);
  });

  it('redacts key-like fields even when an object is logged whole', () => {
    const { logger, lines } = memoryLogger();
    logger.info(
      {
        provider: { apiKey: 'sk-live-abc', model: 'x' },
        token: 'eyJhbGciOi',
        nested: { deeper: { secret: 's3cr3t' } },
      },
      'cfg',
    );
    const text = JSON.stringify(lines);
    expect(text).not.toContain('sk-live-abc');
    expect(text).not.toContain('eyJhbGciOi');
    expect(text).not.toContain('s3cr3t');
    expect(lines[0]?.provider).toEqual({ apiKey: '[redacted]', model: 'x' });
  });

  it('redacts by key name at any depth, without touching the logged object', () => {
    const { logger, lines } = memoryLogger();
    const p = {
      llm: {
        opts: {
          apiKey: 'sk-live-deep1',
          model: 'm',
          nested: { a: { b: { c: { password: 'hunter2-deep' } } } },
        },
      },
    };
    const byTenant = JSON.parse('{"__proto__":{"apiKey":"sk-live-proto1"}}') as unknown;
    logger.info(
      {
        p,
        list: [{ token: 'tok-in-array-1' }],
        'x-api-key': 'header-value-1',
        hasToken: true,
        byTenant,
      },
      'cfg',
    );
    const text = JSON.stringify(lines);
    for (const secret of [
      'sk-live-deep1',
      'hunter2-deep',
      'tok-in-array-1',
      'header-value-1',
      'sk-live-proto1',
    ])
      expect(text).not.toContain(secret);
    expect(text).toContain('"byTenant":{"__proto__":{"apiKey":"[redacted]"}}');
    expect(lines[0]).toMatchObject({
      p: { llm: { opts: { apiKey: '[redacted]', model: 'm' } } },
      hasToken: true,
    });
    expect(p.llm.opts.apiKey).toBe('sk-live-deep1');
  });

  it('shows provider objects as a fixed placeholder, and survives cycles and huge objects at a bounded cost', () => {
    const { logger, lines } = memoryLogger();
    class LLM {}
    class OpenAILLM extends LLM {
      secretish = { organization: 'org-visible-1' };
    }
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const huge = Array.from({ length: 100_000 }, (_, i) => ({ i }));
    logger.info(
      { llm: new OpenAILLM(), cyclic, frame: new Int16Array(480), seen: new Map([['a', 1]]), huge },
      'objects',
    );
    const line = lines[0]!;
    expect(line.frame).toBe('[Int16Array of 960 bytes]');
    expect(line.seen).toBe('[Map of 1]');
    expect(line.llm).toBe('[provider OpenAILLM]');
    expect(line.cyclic).toEqual({ name: 'loop', self: '[circular]' });
    expect((line.huge as unknown[]).length).toBe(100_000);
    expect(JSON.stringify(line.huge).match(/\[truncated\]/g)!.length).toBeGreaterThan(90_000);
  });

  it('masks secret values the process knows in messages, printf arguments, errors and child bindings', () => {
    knownSecrets.add('QUOKKA-known-91ab');
    const { logger, lines } = memoryLogger();
    logger.info('key is QUOKKA-known-91ab');
    logger.info('printf %s', 'QUOKKA-known-91ab');
    logger.error({ err: new Error('refused QUOKKA-known-91ab') }, 'failed');
    logger.child({ region: 'QUOKKA-known-91ab' }).info('child');
    const text = JSON.stringify(lines);
    expect(text).not.toContain('QUOKKA-known-91ab');
    expect(lines.map((l) => l.msg)).toEqual([
      'key is [redacted]',
      'printf [redacted]',
      'failed',
      'child',
    ]);
    expect(lines[2]?.err).toMatchObject({ type: 'Error', message: 'refused [redacted]' });
  });

  it('logs a DOMException, whose getters refuse any receiver but a real one, instead of throwing', () => {
    // An abort reason reaches the logs as a DOMException; a log call that throws inside a
    // session's promise chain fails that session as an unhandled rejection.
    knownSecrets.add('QUOKKA-abort-22cd');
    const { logger, lines } = memoryLogger();
    const abort = new DOMException('stopped by QUOKKA-abort-22cd', 'AbortError');
    expect(() => logger.warn({ err: abort }, 'aborted')).not.toThrow();
    expect(() => logger.warn({ nested: { reason: abort } }, 'aborted')).not.toThrow();
    expect(lines[0]?.err).toMatchObject({
      type: 'DOMException',
      name: 'AbortError',
      code: 20,
      message: 'stopped by [redacted]',
    });
    expect(lines[1]?.nested).toMatchObject({ reason: { name: 'AbortError' } });
    expect(JSON.stringify(lines)).not.toContain('QUOKKA-abort-22cd');
  });

  it('keeps the line when a logged value throws as it is read, and never throws at the caller', () => {
    const { logger, lines } = memoryLogger();
    const hostile = {
      toJSON() {
        throw new Error('serialising refused');
      },
    };
    expect(() => logger.info({ hostile }, 'still written')).not.toThrow();
    expect(lines.at(-1)).toMatchObject({
      msg: 'still written',
      log_error: 'Error: serialising refused',
    });
  });
});
