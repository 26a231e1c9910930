import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DispatchOutcome, DispatchRequest } from '../../src/dispatcher/types.js';
import { IpcClient } from '../../src/ipc/ipc-client.js';
import { WorkerRuntime, type WorkerRuntimeOptions } from '../../src/runtime/worker-runtime.js';
import { memoryLogger, type MemoryLog } from '../session/support.js';
import { REPO_ROOT } from './dev-worker.js';
import { RawAgentServer } from './raw-agent-server.js';
import { runCli, type CliResult } from './run-cli.js';

export const FIXTURES = path.join(REPO_ROOT, 'test/fixtures');
export const fixtureAgent = (name: string) => path.join(FIXTURES, 'agents', `${name}.ts`);

export interface RuntimeRig {
  dir: string;
  configFile: string;
  runtime: WorkerRuntime;
  log: MemoryLog;
  socketPath: string;
  /** Environment under which the CLI finds this worker (and only it). */
  env: NodeJS.ProcessEnv;
  cli(args: string[]): Promise<CliResult>;
  dispatch(req: DispatchRequest): Promise<DispatchOutcome>;
  request(method: string, params?: Record<string, unknown>): Promise<unknown>;
  write(name: string, body: string): void;
  stop(): Promise<void>;
}

/**
 * The real worker runtime in this process, with its embedded local dispatcher and its control
 * socket in a private directory, configured by a real config file written to that directory.
 */
export async function startRuntime(
  configBody: string,
  files: Record<string, string> = {},
  ipcLimits: WorkerRuntimeOptions['ipcLimits'] = {},
): Promise<RuntimeRig> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ortc-rt-'));
  const write = (name: string, body: string) => writeFileSync(path.join(dir, name), body);
  for (const [name, body] of Object.entries(files)) write(name, body);
  const configFile = path.join(dir, 'openrtc.config.ts');
  write('openrtc.config.ts', configBody);
  const log = memoryLogger();
  const socketPath = path.join(dir, `rig-${process.pid}.sock`);
  let runtime: WorkerRuntime;
  try {
    runtime = await WorkerRuntime.start({
      configFile,
      cwd: dir,
      logger: log.logger,
      dev: true,
      devPort: 0,
      socketPath,
      ipcLimits,
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const env: NodeJS.ProcessEnv = { ...process.env, OPENRTC_RUNTIME_DIR: dir };
  return {
    dir,
    configFile,
    runtime,
    log,
    socketPath,
    env,
    cli: (args) => runCli(args, env),
    dispatch: (req) => runtime.dispatcher!.dispatch(req),
    async request(method, params = {}) {
      const client = await IpcClient.connect(socketPath);
      try {
        return await client.request(method, params);
      } finally {
        client.close();
      }
    },
    write,
    async stop() {
      await runtime.stop(0);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The runtime registered with a hand-driven agent-protocol server instead of a dispatcher, for
 * tests that send what LiveKit's dispatcher never would. `fields` are the config's other fields.
 */
export async function startOnRawServer(
  fields: string,
): Promise<RuntimeRig & { server: RawAgentServer }> {
  const server = await RawAgentServer.start();
  try {
    const rig = await startRuntime(
      `export default { name: 'rig', livekit: { url: '${server.url}', apiKey: 'devkey', apiSecret: 'secret' }, ${fields} };`,
    );
    await server.registered();
    return {
      ...rig,
      server,
      async stop() {
        await rig.stop();
        await server.close();
      },
    };
  } catch (err) {
    await server.close();
    throw err;
  }
}
