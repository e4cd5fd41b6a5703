/** `hoziron audit verify|tail`: check and read the hash-chained audit trail. */
import type { Command } from 'commander';
import { HozironError } from '../../errors.js';
import type { App } from '../app.js';
import { formatTime, renderTable } from '../format.js';

function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new HozironError('usage', `-n: expected a positive integer, found ${JSON.stringify(value)}`);
  }
  return n;
}

export function registerAudit(program: Command, app: App): void {
  const audit = program.command('audit').description('verify and read the audit trail');

  audit
    .command('verify')
    .description('verify the hash chain of audit.db from genesis; names the first bad sequence number')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }) => {
      const { verifyAuditTrail } = await import('../../admin/audit-report.js');
      const { home } = await app.open();
      const report = verifyAuditTrail(home);
      if (opts.json) app.printJson(report);
      if (!report.ok) {
        throw new HozironError(
          'integrity',
          `audit chain broken at seq ${report.first_bad_seq}: ${report.reason}`,
          report.count > 0
            ? `events 1 to ${report.count} verify; the trail has been altered or damaged from seq ${report.first_bad_seq} on`
            : undefined,
        );
      }
      if (!opts.json) app.print(`audit chain ok: ${report.count} events, head seq ${report.head!.seq} (${report.head!.hash})`);
    });

  audit
    .command('tail')
    .description('show the newest audit events')
    .option('-n <count>', 'how many events', parseCount, 20)
    .option('--json', 'print one JSON document')
    .action(async (opts: { n: number; json?: boolean }) => {
      const { tailAuditTrail } = await import('../../admin/audit-report.js');
      const { home } = await app.open();
      const events = tailAuditTrail(home, opts.n);
      if (opts.json) {
        app.printJson(events);
        return;
      }
      app.print(
        renderTable(
          ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'TARGET', 'DETAIL'],
          events.map((e) => [String(e.seq), formatTime(e.time), e.actor, e.action, e.target, JSON.stringify(e.detail)]),
        ),
      );
    });
}
