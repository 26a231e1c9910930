import { readFileSync } from 'node:fs';
import { lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { errorMessage } from '../errors/describe-error.js';

/**
 * Where worker sockets live: `$OPENRTC_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/openrtc`, else
 * `<tmpdir>/openrtc-<uid>`, else (when another user already made that predictable folder, or it is
 * not private) `~/.openrtc/run`. The directory is ours alone (mode 0700, owned by us, a real
 * directory and not a symlink); the directory's mode is what keeps other users off the sockets.
 */
export function runtimeDirCandidates(env: NodeJS.ProcessEnv = process.env): {
  dirs: string[];
  explicit: boolean;
} {
  if (env.OPENRTC_RUNTIME_DIR)
    return { dirs: [path.resolve(env.OPENRTC_RUNTIME_DIR)], explicit: true };
  if (env.XDG_RUNTIME_DIR)
    return { dirs: [path.join(env.XDG_RUNTIME_DIR, 'openrtc')], explicit: true };
  const tmp = env.TMPDIR || os.tmpdir();
  const home = env.HOME || os.homedir();
  return {
    dirs: [
      path.join(tmp, `openrtc-${process.getuid?.() ?? 'user'}`),
      path.join(home, '.openrtc', 'run'),
    ],
    explicit: false,
  };
}

/** The preferred runtime directory (the first candidate). */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  return runtimeDirCandidates(env).dirs[0]!;
}

export class UnsafeRuntimeDirError extends Error {
  override name = 'UnsafeRuntimeDirError';
}

/** Throws unless `dir` is a real directory (never a symlink), owned by us, with mode 0700. */
export async function assertPrivateDir(dir: string): Promise<void> {
  const st = await lstat(dir);
  if (st.isSymbolicLink())
    throw new UnsafeRuntimeDirError(`socket directory ${dir} is a symlink; refusing to use it`);
  if (!st.isDirectory())
    throw new UnsafeRuntimeDirError(`socket directory ${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    throw new UnsafeRuntimeDirError(
      `socket directory ${dir} is owned by uid ${st.uid}, not by us (uid ${uid})`,
    );
  const mode = st.mode & 0o777;
  if (mode !== 0o700)
    throw new UnsafeRuntimeDirError(
      `socket directory ${dir} has mode ${mode.toString(8)}; expected 700 (chmod 700 ${dir})`,
    );
}

/** Creates the runtime directory (0700, parents too) if needed and checks it and its parent are safe. */
export async function ensureRuntimeDir(dir: string = runtimeDir()): Promise<string> {
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') await mkdir(dir, { recursive: true, mode: 0o700 });
    else if (code !== 'EEXIST') throw err;
  }
  await assertPrivateDir(dir);
  return dir;
}

/**
 * The directory this worker's socket goes in: the first candidate that is (or can be made) private.
 * A directory named explicitly (OPENRTC_RUNTIME_DIR, XDG_RUNTIME_DIR) is used or refused, never
 * replaced; the predictable one in tmp is passed over when another user made it, and `onSkip`
 * says why. With none usable, the error says what to do.
 */
export async function chooseRuntimeDir(
  env: NodeJS.ProcessEnv = process.env,
  onSkip?: (skipped: string, reason: string, using: string) => void,
): Promise<string> {
  const { dirs, explicit } = runtimeDirCandidates(env);
  const reasons: string[] = [];
  for (const [i, dir] of dirs.entries()) {
    try {
      // A folder under home is only as private as the folder that holds it.
      if (i > 0) await assertNotWritableByOthers(path.dirname(dir));
      await ensureRuntimeDir(dir);
      if (reasons.length) onSkip?.(dirs[0]!, reasons[0]!, dir);
      return dir;
    } catch (err) {
      if (explicit) throw err;
      reasons.push(errorMessage(err));
    }
  }
  throw new UnsafeRuntimeDirError(
    `no private folder for the control socket: ${reasons.join('; ')}. Remove ${dirs[0]} if it is not yours, or set OPENRTC_RUNTIME_DIR to a folder only you can use (mode 700)`,
  );
}

async function assertNotWritableByOthers(dir: string): Promise<void> {
  let st;
  try {
    st = await lstat(dir);
  } catch {
    return; // created by us, 0700, below
  }
  const uid = process.getuid?.();
  if (st.isSymbolicLink() || !st.isDirectory())
    throw new UnsafeRuntimeDirError(`${dir} is not a real directory`);
  if (uid !== undefined && st.uid !== uid)
    throw new UnsafeRuntimeDirError(`${dir} is owned by uid ${st.uid}, not by us (uid ${uid})`);
  if ((st.mode & 0o022) !== 0)
    throw new UnsafeRuntimeDirError(
      `${dir} can be written by others (mode ${(st.mode & 0o777).toString(8)})`,
    );
}

const SOCKET_NAME = /^(.+)-(\d+)\.sock$/;

/** Keeps the name readable in a file name and the path under the Unix socket length limit. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 48) || 'worker';
}

/** `<dir>/<name>-<pid>.sock`: a second worker (another pid) never gets the first one's path. */
export async function workerSocketPath(
  workerName: string,
  env: NodeJS.ProcessEnv = process.env,
  pid = process.pid,
  onSkip?: (skipped: string, reason: string, using: string) => void,
): Promise<string> {
  const dir = await chooseRuntimeDir(env, onSkip);
  return path.join(dir, `${safeName(workerName)}-${pid}.sock`);
}

export interface WorkerSocket {
  name: string;
  pid: number;
  socketPath: string;
}

/** The worker name and pid a socket path names (`<name>-<pid>.sock`), if it follows the pattern. */
export function workerOfSocket(socketPath: string): WorkerSocket | undefined {
  const m = SOCKET_NAME.exec(path.basename(socketPath));
  return m ? { name: m[1]!, pid: Number(m[2]), socketPath } : undefined;
}

/** Resolves true when something accepts a connection on `socketPath`. */
export function probeSocket(
  socketPath: string,
  timeoutMs = 500,
): Promise<'live' | 'refused' | 'unknown'> {
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    const timer = setTimeout(() => done('unknown'), timeoutMs);
    function done(result: 'live' | 'refused' | 'unknown') {
      clearTimeout(timer);
      sock.destroy();
      resolve(result);
    }
    sock.once('connect', () => done('live'));
    sock.once('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'refused' : 'unknown'),
    );
  });
}

/**
 * Whether the process runs. A zombie (exited, not yet reaped by its parent) does not: signal 0
 * still reaches it, so on Linux its state is read from /proc.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but is not ours.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // `pid (comm) state …`; comm may hold spaces and parentheses, so read after the last `)`.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}

async function socketEntries(dir: string): Promise<WorkerSocket[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: WorkerSocket[] = [];
  for (const file of names.sort()) {
    const socketPath = path.join(dir, file);
    const worker = workerOfSocket(socketPath);
    if (!worker) continue;
    try {
      // lstat: a symlink is never a socket here, so it is never probed, listed or unlinked.
      if (!(await lstat(socketPath)).isSocket()) continue;
    } catch {
      continue;
    }
    out.push(worker);
  }
  return out;
}

/** The live workers in the runtime directories (each answered a connect). */
export async function listWorkers(env: NodeJS.ProcessEnv = process.env): Promise<WorkerSocket[]> {
  const { dirs, explicit } = runtimeDirCandidates(env);
  const entries: WorkerSocket[] = [];
  for (const dir of dirs) {
    try {
      await lstat(dir);
    } catch {
      continue;
    }
    // A socket in a directory others can write could be anyone's: do not talk to it. A folder
    // named explicitly must be fixed; the predictable one in tmp may simply be someone else's.
    try {
      await assertPrivateDir(dir);
    } catch (err) {
      if (explicit) throw err;
      continue;
    }
    entries.push(...(await socketEntries(dir)));
  }
  const probes = await Promise.all(entries.map((e) => probeSocket(e.socketPath)));
  return entries.filter((_, i) => probes[i] === 'live');
}

/**
 * Removes sockets left by workers that died without cleaning up: only when nobody answers a
 * connect AND the pid in the name is gone. Returns the paths removed.
 */
export async function cleanStaleSockets(dir: string, keep?: string): Promise<string[]> {
  const removed: string[] = [];
  for (const e of await socketEntries(dir)) {
    if (e.socketPath === keep) continue;
    if (pidAlive(e.pid) && e.pid !== process.pid) continue;
    if ((await probeSocket(e.socketPath)) !== 'refused') continue;
    try {
      if (!(await lstat(e.socketPath)).isSocket()) continue;
      await unlink(e.socketPath);
      removed.push(e.socketPath);
    } catch {
      // Gone already, or not ours to remove.
    }
  }
  return removed;
}
