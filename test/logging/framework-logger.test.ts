import { log, loggerOptions } from '@livekit/agents';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { FRAMEWORK_COMPONENT, routeFrameworkLogs } from '../../src/logging/framework-logger.js';
import { routeProcessWarnings } from '../../src/logging/process-warnings.js';
import { sessionScope } from '../../src/scope/session-scope.js';

function capture(level = 'debug') {
  const chunks: string[] = [];
  const logger = createLogger({
    level,
    destination: { write: (s: string) => void chunks.push(s) },
  });
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const scope = { tenant: 'acme', sessionId: 'ses_1', jobId: 'J1', agent: 'demo', config: undefined };

describe("agents-js's log() routed through the worker's logger", () => {
  it("tags its lines inside a session, not outside, and keeps agents-js's error serialisation", async () => {
    const { logger, lines } = capture();
    routeFrameworkLogs(logger);
    const child = log().child({ jobId: 'J1' });
    await sessionScope.run(scope, async () => {
      log().warn({ error: new Error('provider said no') }, 'inside');
      await new Promise((r) => setTimeout(r, 1));
      child.error('inside, from a child logger made outside');
    });
    log().warn('outside');
    expect(lines().map((l) => [l.msg, l.component, l.tenant, l.session_id, l.agent])).toEqual([
      ['inside', FRAMEWORK_COMPONENT, 'acme', 'ses_1', 'demo'],
      ['inside, from a child logger made outside', FRAMEWORK_COMPONENT, 'acme', 'ses_1', 'demo'],
      ['outside', FRAMEWORK_COMPONENT, undefined, undefined, undefined],
    ]);
    expect(lines()[0]?.error).toMatchObject({ type: 'Error', message: 'provider said no' });
    expect(loggerOptions()).toEqual({ pretty: false, level: 'warn' });
  });

  it('writes warnings and errors by default, and never more than the worker logs', () => {
    const verbose = capture('debug');
    routeFrameworkLogs(verbose.logger);
    log().info('per-turn chatter');
    log().warn('worth knowing');
    expect(verbose.lines().map((l) => l.msg)).toEqual(['worth knowing']);

    routeFrameworkLogs(verbose.logger, { level: 'debug' });
    log().debug('asked for');
    expect(verbose.lines().map((l) => l.msg)).toContain('asked for');

    const quiet = capture('error');
    routeFrameworkLogs(quiet.logger, { level: 'debug' });
    log().warn('below the worker level');
    log().error('an error');
    expect(quiet.lines().map((l) => l.msg)).toEqual(['an error']);
    expect(() => routeFrameworkLogs(quiet.logger, { level: 'loud' })).toThrow(
      /unknown log level "loud"/,
    );
  });

  it("turns Node's process warnings into log lines without a session scope", async () => {
    const { logger, lines } = capture();
    const restore = routeProcessWarnings(logger);
    try {
      sessionScope.run(scope, () =>
        process.emitWarning(
          '11 metrics_collected listeners added to [VAD]',
          'MaxListenersExceededWarning',
        ),
      );
      await new Promise((r) => setImmediate(r));
      expect(lines()).toEqual([
        expect.objectContaining({
          level: 40,
          warning: 'MaxListenersExceededWarning',
          msg: '11 metrics_collected listeners added to [VAD]',
        }),
      ]);
      expect(lines()[0]?.tenant).toBeUndefined();
    } finally {
      restore();
    }
  });
});
