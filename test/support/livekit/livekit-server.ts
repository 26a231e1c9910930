// Starts a real `livekit-server --dev` for the tests and benchmarks: its own ports on 127.0.0.1,
// its own key pair, a generated config file, and a stop by pid. A server can be killed and
// started again on the same ports, as an outage would.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePortRange } from './ports.js';

export interface LivekitServerPorts {
  /** HTTP: the signal endpoint, the Twirp APIs and the agent worker endpoint. */
  signal: number;
  /** WebRTC over TCP. */
  rtcTcp: number;
  /** First of the UDP ports the server muxes WebRTC over. */
  udpFrom: number;
  udpTo: number;
}

export interface LivekitServerInfo {
  /** `ws://127.0.0.1:PORT`: what `LIVEKIT_URL` is set to. */
  url: string;
  httpUrl: string;
  apiKey: string;
  apiSecret: string;
  ports: LivekitServerPorts;
  /** Everything the server has written, across restarts. */
  logFile: string;
}

/** The server's log so far. */
export function readServerLog(info: Pick<LivekitServerInfo, 'logFile'>): string {
  try {
    return readFileSync(info.logFile, 'utf8');
  } catch {
    return '';
  }
}

export interface LivekitServer extends LivekitServerInfo {
  readonly pid: number | undefined;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, as a crash would: no goodbye to any client. */
  kill(): Promise<void>;
  /** Starts the server again on the same ports and keys; resolves once it is ready. */
  restart(): Promise<void>;
}

export interface StartOptions {
  binary: string;
  apiKey?: string;
  apiSecret?: string;
  /** UDP ports in the mux range; each carries many peer connections. */
  udpPorts?: number;
  readyTimeoutMs?: number;
}

function configYaml(info: LivekitServerInfo): string {
  const { ports } = info;
  // Everything on loopback: the server binds its signal port there, and ICE offers only
  // 127.0.0.1 candidates. (The server opens its RTC TCP listener on every address; nothing
  // outside this machine can reach a test server's candidates anyway.)
  return [
    `port: ${ports.signal}`,
    'bind_addresses: ["127.0.0.1"]',
    'keys:',
    `  ${info.apiKey}: ${info.apiSecret}`,
    'rtc:',
    `  tcp_port: ${ports.rtcTcp}`,
    `  udp_port: ${ports.udpFrom}-${ports.udpTo}`,
    '  use_external_ip: false',
    '  node_ip: 127.0.0.1',
    '  enable_loopback_candidate: true',
    '  interfaces:',
    '    includes: [lo]',
    '  ips:',
    '    includes: [127.0.0.1/32]',
    'logging:',
    '  level: info',
    '',
  ].join('\n');
}

async function ready(
  httpUrl: string,
  child: ChildProcess,
  logs: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `livekit-server exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${logs().slice(-4000)}`,
      );
    }
    try {
      const res = await fetch(httpUrl, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(
        `livekit-server did not answer ${httpUrl} within ${timeoutMs} ms:\n${logs().slice(-4000)}`,
      );
    await sleep(100);
  }
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startLivekitServer(opts: StartOptions): Promise<LivekitServer> {
  const udpPorts = opts.udpPorts ?? 3;
  const base = await freePortRange(2 + udpPorts);
  const ports: LivekitServerPorts = {
    signal: base,
    rtcTcp: base + 1,
    udpFrom: base + 2,
    udpTo: base + 1 + udpPorts,
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-livekit-'));
  const info: LivekitServerInfo = {
    url: `ws://127.0.0.1:${ports.signal}`,
    httpUrl: `http://127.0.0.1:${ports.signal}`,
    apiKey: opts.apiKey ?? 'openrtc-test',
    apiSecret: opts.apiSecret ?? 'openrtc-test-secret-at-least-32-chars',
    ports,
    logFile: path.join(dir, 'server.log'),
  };
  const configFile = path.join(dir, 'livekit.yaml');
  writeFileSync(configFile, configYaml(info), { mode: 0o600 });

  let child: ChildProcess;
  const launch = async () => {
    const log = openSync(info.logFile, 'a');
    // --dev: single node, no Redis, development defaults; the keys come from the config.
    child = spawn(opts.binary, ['--dev', '--config', configFile], { stdio: ['ignore', log, log] });
    closeSync(log);
    await ready(info.httpUrl, child, () => readServerLog(info), opts.readyTimeoutMs ?? 30_000);
  };
  await launch();

  const stop = async (graceMs = 5_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = waitExit(child);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
  };
  return {
    ...info,
    get pid() {
      return child.pid;
    },
    async stop(graceMs) {
      await stop(graceMs);
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      const exited = waitExit(child);
      child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      await stop();
      await launch();
    },
  };
}
