import type { Logger } from 'pino';
import type { PeerCredentials } from '../ipc/peer-credentials.js';

/**
 * Who ran a control command. The socket is 0600 in a 0700 directory, so only the worker's own
 * uid and root can connect at all; within that, the kernel names the process (SO_PEERCRED). What
 * a client says about itself is never recorded.
 */
export type AuditWho =
  | ({ source: 'SO_PEERCRED' } & PeerCredentials)
  | { source: 'socket_mode'; uid: null; pid: null; note: string };

export interface AuditRecord {
  action: string;
  tenant?: string;
  old?: unknown;
  new?: unknown;
  who: AuditWho;
}

export function auditWho(peer: PeerCredentials | undefined): AuditWho {
  if (peer) return { source: 'SO_PEERCRED', ...peer };
  return {
    source: 'socket_mode',
    uid: null,
    pid: null,
    note: `the peer's credentials could not be read; the socket admits only uid ${process.getuid?.() ?? '?'} and root`,
  };
}

export interface AuditSink {
  record(entry: AuditRecord): void;
}

export function auditSink(logger: Logger, onRecord: (entry: AuditRecord) => void): AuditSink {
  return {
    record(entry) {
      logger.info(
        { audit: true, ...entry },
        `audit: ${entry.action}${entry.tenant ? ` ${entry.tenant}` : ''}`,
      );
      onRecord(entry);
    },
  };
}
