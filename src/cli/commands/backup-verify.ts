/** `hoziron backup verify <id|file> [--json]`: every check a restore makes, changing nothing. */
import type { Command } from 'commander';
import { isHozironError } from '../../errors.js';
import type { App } from '../app.js';
import { cliHint } from '../hints.js';
import { formatBytes } from '../format.js';
import { startProgress } from '../progress.js';
import { backupCommand } from './backup.js';
import { addDecryptOptions, commandPassphrase, type PassphraseFlags } from '../passphrase.js';
import type { VerifyReport } from '../../api/types.js';

const CHECKSUM_WORDS: Record<VerifyReport['checksum_source'], string> = {
  sidecar: 'matches its .sha256',
  operator: 'matches the checksum given',
  none: 'no recorded checksum: no .sha256 beside it, none given with --checksum; every entry checked against the manifest',
};

export function registerBackupVerify(program: Command, app: App): void {
  addDecryptOptions(
    backupCommand(program)
      .command('verify')
      .description('verify an archive: checksum, every entry against the manifest, databases, audit chain')
      .argument('<id|file>', 'backup id (from `backup list`) or archive path')
      .option(
        '--checksum <sha256:hex>',
        'compare the archive with this checksum (e.g. published beside a download) instead of its .sha256',
      ),
  )
    .option('--json', 'print the verification report as one JSON document')
    .action(async (idOrFile: string, opts: { json?: boolean; checksum?: string; identity?: string } & PassphraseFlags) => {
      const { home, cfg: loaded } = await app.open();
      const { verifyBackup } = await import('../../backup/verify.js');
      const { withIdentityFile, withPassphraseIdentity } = await import('../../backup/archive-keys.js');
      const passphrase = await commandPassphrase(app, opts, false);
      const cfg = passphrase ? withPassphraseIdentity(loaded, passphrase) : withIdentityFile(loaded, opts.identity);
      const progress = await startProgress('Verifying', { json: opts.json, phase: 'verify' });
      try {
        const r = await verifyBackup(home, cfg, idOrFile, {
          checksum: opts.checksum,
          onProgress: (d, t) => progress.update(d, t),
          onWarning: (m) => app.warn(m),
        });
        progress.stop();
        if (opts.json) app.printJson(r);
        else if (r.unchecked) {
          app.print([
            `Backup ${r.id} is encrypted; without an identity only its outside was checked.`,
            `  path:      ${r.path}`,
            `  checksum:  ${r.checksum} (${CHECKSUM_WORDS[r.checksum_source]})`,
            r.passphrase
              ? '  header:    a well-formed age v1 header for a passphrase (scrypt)'
              : `  header:    a well-formed age v1 header for ${r.recipients} recipient(s)`,
            `  not checked: ${r.unchecked.join(', ')}`,
            r.passphrase ? '  (give --passphrase to check everything)' : '  (give --identity FILE to check everything)',
          ]);
        } else {
          app.print([
            `Backup ${r.id} is sound.`,
            `  path:      ${r.path}`,
            `  checksum:  ${r.checksum} (${CHECKSUM_WORDS[r.checksum_source]})`,
            `  contents:  ${r.files} files, ${r.dirs} folders, ${formatBytes(r.unpacked_bytes)}; every entry matches the manifest`,
            `  databases: ${r.databases_checked.length > 0 ? `${r.databases_checked.join(', ')} pass integrity_check` : 'none'}`,
            `  audit:     ${r.audit_head ? `chain verifies up to event ${r.audit_head.seq}` : 'not in this archive'}`,
          ]);
          for (const w of r.warnings) app.warn(w);
        }
      } catch (err) {
        progress.stop();
        if (opts.json && isHozironError(err)) {
          const hint = cliHint(err);
          app.printJson({
            ok: false,
            target: idOrFile,
            error: { code: err.code, message: err.message, ...(hint ? { hint } : {}) },
          });
        }
        throw err;
      }
    });
}
