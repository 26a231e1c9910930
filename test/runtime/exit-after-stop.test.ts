import { describe, expect, it } from 'vitest';
import { countResources, exitAfterStop } from '../../src/runtime/exit-after-stop.js';

describe('exitAfterStop', () => {
  it('after the grace, logs what is still open by kind and exits with the given code', async () => {
    const warnings: { obj: object; msg: string }[] = [];
    let flushed = 0;
    const exited = new Promise<number>((resolve) => {
      exitAfterStop({
        code: 1,
        graceMs: 20,
        logger: { warn: (obj, msg) => warnings.push({ obj, msg }), flush: () => void flushed++ },
        activeResources: () => ['Timeout', 'TCPSocketWrap', 'Timeout', 'TCPServerWrap'],
        exit: resolve,
      });
    });
    expect(await exited).toBe(1);
    expect(flushed).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/^still open after the worker stopped/);
    expect(warnings[0]!.obj).toMatchObject({
      open: { Timeout: 2, TCPSocketWrap: 1, TCPServerWrap: 1 },
      exit_code: 1,
    });
  });

  it('does not itself keep the process alive', () => {
    const timer = exitAfterStop({
      code: 0,
      logger: { warn: () => undefined },
      exit: () => undefined,
    });
    try {
      expect(timer.hasRef()).toBe(false);
    } finally {
      clearTimeout(timer);
    }
  });

  it('counts into a null-prototype object, so a resource named like a prototype key is just a count', () => {
    const counts = countResources(['constructor', 'constructor']);
    expect(Object.getPrototypeOf(counts)).toBeNull();
    expect(counts.constructor).toBe(2);
  });
});
