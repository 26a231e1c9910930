import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandLine, processTree } from '../../bench/density/process-stats.js';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { FRAMEWORK_COMPONENT } from '../../src/logging/framework-logger.js';
import { REPO_ROOT, startDevWorker, type DevWorker } from '../support/dev-worker.js';
import { isAlive, until } from '../support/conditions.js';
import { runCli } from '../support/run-cli.js';

const CONFIG = path.join(REPO_ROOT, 'test/fixtures/inference/openrtc.turn-detector.config.ts');
const INFERENCE_MAIN = 'src/inference/process-main.js';

type Line = Record<string, unknown>;

/** The worker's descendants that are Node processes (tsx's esbuild helper is not one). */
function nodeDescendants(pid: number): { pid: number; cmd: string }[] {
  return processTree(pid)
    .slice(1)
    .map((p) => ({ pid: p, cmd: commandLine(p) }))
    .filter((p) => p.cmd.startsWith(process.execPath) || p.cmd.startsWith('node '));
}

async function snapshot(worker: DevWorker): Promise<SnapshotV1> {
  const top = await runCli(['top', '--json'], worker.env);
  expect(top.code, top.stderr).toBe(0);
  return SnapshotV1.parse(JSON.parse(top.stdout));
}

describe('a worker hosting agents that use the local turn detector (openrtc dev, JSON logs)', () => {
  let worker: DevWorker;
  let lines: Line[];
  beforeAll(async () => {
    worker = await startDevWorker(['--config', CONFIG]);
  }, 120_000);
  afterAll(async () => {
    await worker?.stop();
  });

  it('20 sessions of two tenants share the one inference process, and the model loads once', async () => {
    const snap = await snapshot(worker);
    expect(snap.worker.inference).toMatchObject({
      state: 'running',
      restarts: 0,
      runners: ['lk_eot_audio'],
    });
    const inferencePid = snap.worker.inference!.pid!;

    for (const tenant of ['acme', 'globex']) {
      const dispatched = await runCli(
        ['dispatch', '--agent', 'eot', '--tenant', tenant, '--count', '10'],
        worker.env,
      );
      expect(dispatched.stdout, dispatched.stderr).toContain('10/10 accepted');
    }
    await until(
      '20 live sessions',
      () => worker.logs.filter((l) => l.includes('"session started"')).length === 20,
      60_000,
      () => worker.logs.slice(-30).join('\n'),
    );

    // While all 20 talk: the worker and one inference process, nothing else.
    const busy = await snapshot(worker);
    expect(busy.worker.live).toBe(20);
    expect(busy.worker.inference?.pid).toBe(inferencePid);
    expect(busy.worker.inference?.rssBytes).toBeGreaterThan(100 * 2 ** 20);
    const children = nodeDescendants(worker.child.pid!);
    expect(children).toEqual([{ pid: inferencePid, cmd: expect.stringContaining(INFERENCE_MAIN) }]);

    await until(
      'every session to end',
      () => worker.logs.filter((l) => l.includes('"session ended')).length === 20,
      150_000,
      () => worker.logs.slice(-30).join('\n'),
    );
    lines = worker.logs.map((l) => JSON.parse(l) as Line);

    const ended = lines.filter((l) => String(l.msg).startsWith('session ended'));
    expect(ended.map((l) => l.reason)).toEqual(Array(20).fill('shutdown: caller finished'));
    for (const end of ended) {
      const predictions = lines.filter(
        (l) => l.msg === 'eot prediction' && l.session_id === end.session_id,
      );
      expect(predictions.map((p) => p.utterance).sort()).toEqual(['finished', 'unfinished']);
      for (const p of predictions) expect(p.inference_ms).toBeGreaterThan(0);
      const [finished, unfinished] = ['finished', 'unfinished'].map(
        (u) => predictions.find((p) => p.utterance === u)!.probability as number,
      );
      expect(finished).toBeGreaterThan(unfinished!);
    }
    expect(lines.filter((l) => String(l.msg).startsWith('inference process ready'))).toHaveLength(
      1,
    );
    expect(lines.filter((l) => /executor failed|EOT unavailable/.test(String(l.msg)))).toEqual([]);
    const after = await snapshot(worker);
    expect(after.worker.inference).toMatchObject({
      pid: inferencePid,
      restarts: 0,
      failedRequests: 0,
    });
  }, 240_000);

  it("every line written inside a session, agents-js's own included, carries that session's tenant and id; lines outside carry none", () => {
    // One format: every line of the worker's output is a JSON log line.
    expect(lines.length).toBe(worker.logs.length);
    const tenantOf = new Map(
      lines.filter((l) => l.msg === 'session started').map((l) => [l.session_id, l.tenant]),
    );
    expect([...tenantOf.values()].sort()).toEqual([
      ...Array(10).fill('acme'),
      ...Array(10).fill('globex'),
    ]);

    const framework = lines.filter((l) => l.component === FRAMEWORK_COMPONENT);
    const markers = framework.filter((l) => String(l.msg).startsWith('fixture: agents-js line'));
    expect(markers).toHaveLength(60);
    for (const l of markers) {
      expect(l.tenant).toBe(l.expect_tenant);
      expect(l.session_id).toBe(l.expect_session);
      expect(l.agent).toBe('eot');
    }
    // agents-js's own warnings from inside the sessions are tagged too: one threshold warning per
    // call, each with its own session.
    const thresholds = framework.filter((l) =>
      String(l.msg).startsWith('a non-default turn detection threshold was provided'),
    );
    expect(new Set(thresholds.map((l) => l.session_id))).toEqual(new Set(tenantOf.keys()));
    const own = framework.filter((l) => !String(l.msg).startsWith('fixture:'));
    for (const l of own) expect(tenantOf.get(l.session_id)).toBe(l.tenant);
    // No line is mislabelled: a session id always comes with its own tenant and agent.
    for (const l of lines.filter((x) => x.session_id !== undefined)) {
      expect(tenantOf.get(l.session_id)).toBe(l.tenant);
      expect(l.agent).toBe('eot');
    }
    // Lines from outside any session carry none.
    for (const msg of [
      'inference process ready: runners loaded once for every session',
      'registered with LiveKit',
    ]) {
      const line = lines.find((l) => l.msg === msg);
      expect(line, msg).toBeDefined();
      expect(line?.tenant).toBeUndefined();
      expect(line?.session_id).toBeUndefined();
    }
  });
});

describe('a worker whose inference process is killed (openrtc dev, as an operator sees it)', () => {
  let worker: DevWorker;
  beforeAll(async () => {
    worker = await startDevWorker(['--config', CONFIG]);
  }, 120_000);
  afterAll(async () => {
    await worker?.stop();
  });

  it('restarts it; GET / says 503 meanwhile; top and the log show the incident once', async () => {
    const http = worker.logs
      .map((l) => JSON.parse(l) as Line)
      .find((l) => typeof l.http === 'string' && String(l.msg).startsWith('http server listening'))
      ?.http as string;
    const health = async () => {
      const res = await fetch(`${http}/`);
      return `${res.status} ${await res.text()}`;
    };
    expect(await health()).toBe('200 OK');
    expect(await (await fetch(`${http}/metrics`)).text()).toMatch(
      /^lk_agents_child_process_count\{nodename="[^"]*"\} 1$/m,
    );

    const before = (await snapshot(worker)).worker.inference!;
    process.kill(before.pid!, 'SIGKILL');
    // Polled while it restarts (at least the backoff's 250 ms): a probe sees it down, then up again.
    const answers: string[] = [];
    const poll = async (want: string, timeoutMs: number) => {
      for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
        const answer = await health();
        if (answers.at(-1) !== answer) answers.push(answer);
        if (answer === want) return;
      }
    };
    await poll('503 inference process not running', 10_000);
    await poll('200 OK', 60_000);
    // Each change of answer, in order: up (until the worker saw the exit), down, up again.
    expect(answers[0] === '200 OK' ? answers.slice(1) : answers).toEqual([
      '503 inference process not running',
      '200 OK',
    ]);
    const after = (await snapshot(worker)).worker.inference!;
    expect(after.state).toBe('running');
    expect(after.pid).not.toBe(before.pid);
    expect(after).toMatchObject({
      restarts: 1,
      lastExit: 'was killed by SIGKILL',
      runners: ['lk_eot_audio'],
    });
    const once = await runCli(['top', '--once'], worker.env);
    expect(once.stdout.split('\n')[3]).toMatch(
      new RegExp(`^inference pid ${after.pid} .* restarts 1  failed 0`),
    );
    expect(once.stdout).toContain('inference process was killed by SIGKILL; restarting');
    const lines = worker.logs
      .map((l) => JSON.parse(l) as Line)
      .filter((l) => l.component === 'inference');
    expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([
      expect.stringMatching(/^inference process was killed by SIGKILL; restarting in \d+ ms/),
    ]);
    expect(
      lines.filter((l) => String(l.msg).startsWith('inference process restarted')),
    ).toHaveLength(1);
  }, 90_000);
});

describe('a worker with --log-format pretty', () => {
  let worker: DevWorker;
  beforeAll(async () => {
    worker = await startDevWorker(['--config', CONFIG, '--log-format', 'pretty']);
  }, 120_000);
  afterAll(async () => {
    await worker?.stop();
  });

  it("writes agents-js's lines in the same format: no raw JSON in the pretty output", async () => {
    const dispatched = await runCli(
      ['dispatch', '--agent', 'eot', '--tenant', 'acme', '--count', '2'],
      worker.env,
    );
    expect(dispatched.stdout).toContain('2/2 accepted');
    // agents-js's own warning and a line through its logger, from each of the two calls.
    await until(
      "agents-js's lines",
      () =>
        worker.logs.filter((l) => l.includes('a non-default turn detection threshold')).length ===
          2 &&
        worker.logs.filter((l) => l.includes('fixture: agents-js line from the entry')).length ===
          2,
      90_000,
      () => worker.logs.slice(-30).join('\n'),
    );
    expect(worker.logs.some((l) => /component.*livekit-agents/.test(l))).toBe(true);
    expect(worker.logs.filter((l) => l.trimStart().startsWith('{'))).toEqual([]);
  }, 120_000);

  it('leaves no inference process behind when the worker is killed with SIGKILL', async () => {
    const inference = nodeDescendants(worker.child.pid!).find((p) =>
      p.cmd.includes(INFERENCE_MAIN),
    );
    expect(inference).toBeDefined();
    const exited = new Promise((resolve) => worker.child.once('exit', resolve));
    worker.child.kill('SIGKILL');
    await exited;
    await until('the inference process to exit', () => !isAlive(inference!.pid), 10_000);
  }, 30_000);
});
