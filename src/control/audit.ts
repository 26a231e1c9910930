import type { Logger } from 'pino';

export interface AuditRecord {
  action: string;
  tenant?: string;
  old?: unknown;
  new?: unknown;
  /** The operator: the uid the CLI reports. The socket is 0600, so only this uid or root can connect. */
  who: { uid: number | null; pid: number | null };
}

export interface AuditSink {
  record(entry: AuditRecord): void;
}

export function auditSink(logger: Logger, onRecord: (entry: AuditRecord) => void): AuditSink {
  return {
    record(entry) {
      logger.info({ audit: true, ...entry }, `audit: ${entry.action}${entry.tenant ? ` ${entry.tenant}` : ''}`);
      onRecord(entry);
    },
  };
}
