/**
 * Restore, in two steps: the dry-run plan first (what changes, how old the backup is, any
 * refusal), then an explicit confirmation — a checkbox naming the backup — before the
 * restore is sent. A modal <dialog> keeps focus inside and closes on Escape.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Api, ConsoleRecord, RestorePlan } from './api.js';
import { formatAge, formatBytes, formatTime } from './format.js';

interface Props {
  api: Api;
  record: ConsoleRecord;
  onClose: () => void;
  onRun: (run: () => Promise<string>) => void;
}

export function RestoreDialog({ api, record, onClose, onRun }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const [plan, setPlan] = useState<RestorePlan | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirmed, setConfirmed] = useState(false);

  useEffect(() => {
    ref.current?.showModal();
    api.plan(record.id).then(setPlan, (err: unknown) => setError((err as Error).message));
  }, [api, record.id]);

  const c = plan?.changes;
  return (
    <dialog ref={ref} class="restore" aria-labelledby="restore-title" onClose={onClose}>
      <h2 id="restore-title">Restore backup {record.id.slice(0, 8)}</h2>
      {error && (
        <p class="notice error" role="alert">
          The dry run failed: {error}
        </p>
      )}
      {!plan && !error && (
        <p role="status">
          <progress aria-label="Checking the archive" /> Checking the archive (dry run)…
        </p>
      )}
      {plan && c && (
        <div class="plan" data-testid="restore-plan">
          <p>
            {plan.restorable
              ? 'The archive is sound and can be restored.'
              : `A restore would be refused: ${plan.refusal ?? 'unknown reason'}.`}
          </p>
          <dl class="facts">
            <dt>Backup</dt>
            <dd>
              {plan.archive.scope}, made {formatTime(plan.archive.created_at)} (<strong>{formatAge(plan.archive.created_at)}</strong>)
            </dd>
            <dt>Replaces</dt>
            <dd>
              <ul class="paths">
                {c.items.map((p) => (
                  <li key={p}>
                    <code>{p}</code>
                  </li>
                ))}
              </ul>
            </dd>
            <dt>Added</dt>
            <dd>
              {c.added.count} files ({formatBytes(c.added.bytes)})
            </dd>
            <dt>Replaced</dt>
            <dd>
              {c.replaced.count} files ({formatBytes(c.replaced.bytes_before)} → {formatBytes(c.replaced.bytes_after)})
            </dd>
            <dt>Removed</dt>
            <dd>
              {c.removed.count} files ({formatBytes(c.removed.bytes)})
            </dd>
            <dt>Checksum</dt>
            <dd>{plan.checksum_verified ? 'verified' : 'not verified'}</dd>
          </dl>
          {plan.warnings.length > 0 && (
            <ul class="warnings">
              {plan.warnings.map((w) => (
                <li key={w}>{w}</li>
              ))}
            </ul>
          )}
          <p class="help">
            A safety backup of the current state is taken first (in pre-restore/). The daemon answers only health while it runs.
          </p>
          <label class="check">
            <input
              type="checkbox"
              checked={confirmed}
              disabled={!plan.restorable}
              onChange={(e) => setConfirmed(e.currentTarget.checked)}
            />
            Replace the current state with backup {record.id.slice(0, 8)} from {formatAge(plan.archive.created_at)}
          </label>
        </div>
      )}
      <div class="actions">
        <button type="button" onClick={() => ref.current?.close()}>
          Cancel
        </button>
        <button
          type="button"
          class="danger"
          disabled={!plan?.restorable || !confirmed}
          onClick={() =>
            onRun(async () => {
              const r = await api.restore(record.id);
              return `Restored backup ${r.archive.id} (safety backup ${r.safety_backup?.id ?? 'none'}).`;
            })
          }
        >
          Restore now
        </button>
      </div>
    </dialog>
  );
}
