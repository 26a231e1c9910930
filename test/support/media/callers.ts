// Spawns caller processes (see caller-process.ts) and talks to them.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RoomConfiguration } from '@livekit/protocol';
import { AccessToken } from 'livekit-server-sdk';
import type {
  CallerMessage,
  CallerProcessSpec,
  CallerReport,
  CallerSpec,
} from './caller-protocol.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'caller-process.ts');

export interface ServerCredentials {
  url: string;
  apiKey: string;
  apiSecret: string;
}

export async function callerToken(
  server: ServerCredentials,
  room: string,
  identity: string,
  roomConfig?: RoomConfiguration,
  attributes?: Record<string, string>,
): Promise<string> {
  const at = new AccessToken(server.apiKey, server.apiSecret, {
    identity,
    name: identity,
    ttl: '1h',
  });
  at.addGrant({ room, roomJoin: true, roomCreate: true, canPublish: true, canSubscribe: true });
  // A room this caller creates by joining starts with these settings, agents included.
  if (roomConfig) at.roomConfig = roomConfig;
  if (attributes) at.attributes = attributes;
  return at.toJwt();
}

export interface CallerProcess {
  readonly child: ChildProcess;
  report(): Promise<CallerReport[]>;
  /** Tells the callers in these rooms (that joined with `speak: false`) to start talking. */
  speak(rooms: string[]): void;
  /** Leaves every room and waits for the process to exit. */
  hangUp(): Promise<void>;
}

export interface CallerOptions {
  room: string;
  identity?: string;
  markerHz?: number;
  speak?: boolean;
  untilAnswered?: boolean;
  pauseMs?: number;
  roomConfig?: RoomConfiguration;
  /** The caller's participant attributes, as a SIP bridge or an app would set them. */
  attributes?: Record<string, string>;
}

/** One process holding the given callers; resolves once every one is in its room (and speaking). */
export async function startCallers(
  server: ServerCredentials,
  callers: CallerOptions[],
  extra: Pick<CallerProcessSpec, 'voiceBandHz' | 'voicesHz'> = {},
): Promise<CallerProcess> {
  const specs: CallerSpec[] = await Promise.all(
    callers.map(async (c) => {
      const identity = c.identity ?? `caller-${c.room}`;
      return {
        room: c.room,
        identity,
        token: await callerToken(server, c.room, identity, c.roomConfig, c.attributes),
        ...(c.markerHz !== undefined ? { markerHz: c.markerHz } : {}),
        ...(c.speak !== undefined ? { speak: c.speak } : {}),
        ...(c.untilAnswered !== undefined ? { untilAnswered: c.untilAnswered } : {}),
        ...(c.pauseMs !== undefined ? { pauseMs: c.pauseMs } : {}),
      };
    }),
  );
  const spec: CallerProcessSpec = { url: server.url, callers: specs, ...extra };
  const child = fork(SCRIPT, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, OPENRTC_CALLER_SPEC: JSON.stringify(spec) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
  child.stdout!.on('data', () => undefined);

  // A caller that never joined is of no use to anyone: it must not outlive the failed start (a
  // soak that places thousands of calls would otherwise pile up processes still trying).
  const joined = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`callers did not join within 60 s:\n${stderr}`)),
      60_000,
    );
    const onMessage = (m: CallerMessage) => {
      if (m.type === 'ready') done(resolve);
      if (m.type === 'error')
        done(() => reject(new Error(`caller process failed: ${m.message}\n${stderr}`)));
    };
    const onExit = (code: number | null) =>
      done(() => reject(new Error(`caller process exited (${code}) before joining:\n${stderr}`)));
    const done = (fn: () => void) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      fn();
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
  await joined.catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });

  let nextId = 1;
  return {
    child,
    report() {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        if (!child.connected) {
          reject(new Error('caller process is gone'));
          return;
        }
        const onMessage = (m: CallerMessage) => {
          if (m.type !== 'report' || m.id !== id) return;
          child.off('message', onMessage);
          resolve(m.callers);
        };
        child.on('message', onMessage);
        child.send({ type: 'report', id });
      });
    },
    speak(rooms) {
      if (child.connected) child.send({ type: 'speak', rooms });
    },
    async hangUp() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (child.connected) child.send({ type: 'hangup' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
