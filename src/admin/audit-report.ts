/**
 * Reading the audit trail for the `audit` commands: verify the chain of audit.db from
 * genesis, and the newest events. Both only read; neither changes the database.
 */
import { existsSync } from 'node:fs';
import { HozironError } from '../errors.js';
import { AuditLog, type AuditEvent, type ChainReport } from '../stores/audit.js';
import type { HomeLayout } from '../home/layout.js';

function requireAuditDb(home: HomeLayout): void {
  if (!existsSync(home.auditDb)) {
    throw new HozironError('not_found', `audit trail ${home.auditDb} not found`, 'check the home', { remedy: 'check_home' });
  }
}

export function verifyAuditTrail(home: HomeLayout): ChainReport {
  requireAuditDb(home);
  return AuditLog.verifyFile(home.auditDb);
}

/** The newest `n` events, oldest first. */
export function tailAuditTrail(home: HomeLayout, n: number): AuditEvent[] {
  requireAuditDb(home);
  const log = AuditLog.open(home.auditDb);
  try {
    return log.tail(n);
  } finally {
    log.close();
  }
}
