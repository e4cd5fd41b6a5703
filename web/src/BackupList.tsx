/** The newest backups as cards (a table does not fit 360 px), each with the actions its role allows. */
import { roleAllows, type ConsoleRecord, type Role } from './api.js';
import { formatAge, formatBytes, formatDuration, formatTime } from './format.js';

const SHOWN = 20;

interface Props {
  records: ConsoleRecord[] | null;
  role: Role;
  disabled: boolean;
  onVerify: (r: ConsoleRecord) => void;
  onDownload: (r: ConsoleRecord) => void;
  onRestore: (r: ConsoleRecord) => void;
  onDelete: (r: ConsoleRecord) => void;
}

function ActionButton(props: {
  label: string;
  needs: Role;
  role: Role;
  disabled: boolean;
  onClick: () => void;
  danger?: boolean;
  record: ConsoleRecord;
}) {
  const allowed = roleAllows(props.role, props.needs);
  return (
    <button
      type="button"
      class={props.danger ? 'danger' : undefined}
      disabled={!allowed || props.disabled}
      title={allowed ? undefined : `needs the ${props.needs} role`}
      aria-label={`${props.label} backup ${props.record.id.slice(0, 8)}${allowed ? '' : ` (needs the ${props.needs} role)`}`}
      onClick={props.onClick}
    >
      {props.label}
    </button>
  );
}

export function BackupList({ records, role, disabled, ...on }: Props) {
  return (
    <section class="card" aria-labelledby="backups-title">
      <h2 id="backups-title">Newest backups</h2>
      {records === null ? (
        <p aria-busy="true">Loading…</p>
      ) : records.length === 0 ? (
        <p>No backups yet.</p>
      ) : (
        <ul class="backups">
          {records.slice(0, SHOWN).map((r) => (
            <li key={r.id} class="backup" data-id={r.id}>
              <h3>
                <span class="scope">{r.scope}</span> <code title={r.id}>{r.id.slice(0, 8)}</code>{' '}
                <time dateTime={r.created_at} title={formatTime(r.created_at)}>
                  {formatAge(r.created_at)}
                </time>
              </h3>
              <dl class="facts">
                <dt>Size</dt>
                <dd>{formatBytes(r.size_bytes)}</dd>
                <dt>Took</dt>
                <dd>{formatDuration(r.duration_ms)}</dd>
                <dt>Location</dt>
                <dd>{r.location ?? 'local'}</dd>
                <dt>Encrypted</dt>
                <dd>{r.encrypted ? 'yes' : 'no'}</dd>
                <dt>Verified</dt>
                <dd>{r.last_verified_at ? formatAge(r.last_verified_at) : 'never'}</dd>
              </dl>
              <div class="actions">
                <ActionButton label="Verify" needs="operator" role={role} disabled={disabled} record={r} onClick={() => on.onVerify(r)} />
                <ActionButton
                  label="Download"
                  needs="operator"
                  role={role}
                  disabled={disabled}
                  record={r}
                  onClick={() => on.onDownload(r)}
                />
                <ActionButton
                  label="Restore"
                  needs="admin"
                  role={role}
                  disabled={disabled || r.scope === 'pre-restore'}
                  record={r}
                  onClick={() => on.onRestore(r)}
                />
                <ActionButton
                  label="Delete"
                  needs="admin"
                  role={role}
                  disabled={disabled}
                  record={r}
                  danger
                  onClick={() => on.onDelete(r)}
                />
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
