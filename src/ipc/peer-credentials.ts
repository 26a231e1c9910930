import { spawn } from 'node:child_process';
import type net from 'node:net';

/** Who is on the other end of a control connection, as the kernel recorded it at connect(). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/**
 * Reads the peer's credentials with `getsockopt(SO_PEERCRED)`. Node exposes no such call, so a
 * tiny Perl program (Perl is part of every Debian and Ubuntu base system) is handed a duplicate
 * of the connection's descriptor and asks the kernel. Linux only; resolves undefined when Perl is
 * missing, the platform is another, or the connection is gone: the caller then knows the peer
 * only as "a process of this uid or root", which the socket's 0600 mode guarantees.
 */
export function peerCredentials(
  socket: net.Socket,
  timeoutMs = 2_000,
): Promise<PeerCredentials | undefined> {
  if (process.platform !== 'linux' || socket.destroyed) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let out = '';
    let settled = false;
    const done = (value: PeerCredentials | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    let child;
    try {
      child = spawn('perl', ['-MSocket', '-e', PERL], {
        stdio: ['ignore', 'pipe', 'ignore', socket],
      });
    } catch {
      return done(undefined);
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(undefined);
    }, timeoutMs);
    timer.unref();
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => (out += chunk));
    child.on('error', () => done(undefined));
    child.on('close', (code) => {
      const m = /^(\d+) (\d+) (\d+)$/.exec(out.trim());
      done(
        code === 0 && m ? { pid: Number(m[1]), uid: Number(m[2]), gid: Number(m[3]) } : undefined,
      );
    });
  });
}

/** fd 3 is the connection; `struct ucred` is { pid_t pid; uid_t uid; gid_t gid; }. */
const PERL =
  'open(my $s, "+<&=3") or exit 2; my $c = getsockopt($s, SOL_SOCKET, SO_PEERCRED) or exit 3; my ($p, $u, $g) = unpack("iII", $c); print "$p $u $g\\n";';
