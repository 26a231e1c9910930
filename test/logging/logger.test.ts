import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { sessionScope } from '../../src/logging/scope.js';

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
    const scope = { tenant: 'acme', sessionId: 'S1', jobId: 'J1', agent: 'demo', config: undefined };
    await sessionScope.run(scope, async () => {
      logger.info('direct');
      await new Promise<void>((resolve) => setTimeout(() => (logger.info('from timer'), resolve()), 1));
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
      sessionScope.run({ tenant, sessionId: `S-${tenant}`, jobId: 'J', agent: 'demo', config: undefined }, async () => {
        for (let i = 0; i < 5; i++) {
          await new Promise((r) => setImmediate(r));
          logger.info({ i }, tenant);
        }
      });
    await Promise.all([run('acme'), run('globex')]);
    expect(lines).toHaveLength(10);
    for (const l of lines) expect(l.tenant).toBe(l.msg);
  });

  it('redacts key-like fields even when an object is logged whole', () => {
    const { logger, lines } = memoryLogger();
    logger.info({ provider: { apiKey: 'sk-live-abc', model: 'x' }, token: 'eyJhbGciOi', nested: { deeper: { secret: 's3cr3t' } } }, 'cfg');
    const text = JSON.stringify(lines);
    expect(text).not.toContain('sk-live-abc');
    expect(text).not.toContain('eyJhbGciOi');
    expect(text).not.toContain('s3cr3t');
    expect(lines[0]?.provider).toEqual({ apiKey: '[redacted]', model: 'x' });
  });
});
