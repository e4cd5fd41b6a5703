/**
 * The signed-in page. It polls health, status and the list (every 2 s while a backup or a
 * restore runs, every 15 s otherwise); while a live restore runs the daemon answers 503 to
 * everything but health, which the page shows as progress rather than as an error.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';
import {
  ApiFailure,
  fetchHealth,
  roleAllows,
  type Api,
  type BackupStatusResponse,
  type ConsoleHealth,
  type ConsoleRecord,
  type Role,
  type WhoAmIResponse,
} from './api.js';
import { BackupList } from './BackupList.js';
import { formatBytes, formatTime } from './format.js';
import { RestoreDialog } from './RestoreDialog.js';
import { SizeChart } from './SizeChart.js';

export interface Notice {
  kind: 'ok' | 'error';
  text: string;
}

export function Dashboard({ api, me, onSignOut }: { api: Api; me: WhoAmIResponse; onSignOut: () => void }) {
  const [health, setHealth] = useState<ConsoleHealth | null>(null);
  const [status, setStatus] = useState<BackupStatusResponse | null>(null);
  const [records, setRecords] = useState<ConsoleRecord[] | null>(null);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [restoring, setRestoring] = useState<ConsoleRecord | null>(null);
  const [scope, setScope] = useState<'full' | 'agents'>('full');

  const refresh = useCallback(async () => {
    try {
      const h = await fetchHealth();
      setHealth(h);
      if (h.status === 'restoring') return;
      const [s, l] = await Promise.all([api.status(), api.list()]);
      setStatus(s);
      setRecords(l);
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 503) return;
      setNotice({ kind: 'error', text: `Cannot reach the daemon: ${(err as Error).message}` });
    }
  }, [api]);

  const active = busy !== null || status?.running === true || health?.status === 'restoring';
  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), active ? 2000 : 15000);
    return () => clearInterval(timer);
  }, [refresh, active]);

  /** Run one action, showing it as progress and its outcome as a notice. */
  const act = async (label: string, fn: () => Promise<string>) => {
    setBusy(label);
    setNotice(null);
    try {
      setNotice({ kind: 'ok', text: await fn() });
    } catch (err) {
      setNotice({ kind: 'error', text: `${label} failed: ${(err as Error).message}` });
    } finally {
      setBusy(null);
      void refresh();
    }
  };

  const can = (needed: Role) => roleAllows(me.role, needed);

  return (
    <>
      <header class="topbar">
        <h1>Hoziron console</h1>
        <p class="who">
          <span>
            {me.name} <span class="badge">{me.role}</span>
          </span>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </p>
      </header>
      <main>
        <HealthBanner health={health} />
        <Progress busy={busy} running={status?.running === true} restoring={health?.status === 'restoring'} />
        {notice && (
          <p class={`notice ${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'}>
            {notice.text}
          </p>
        )}
        <div class="grid">
          <StatusPanel status={status} />
          <section class="card" aria-labelledby="create-title">
            <h2 id="create-title">New backup</h2>
            <label for="scope">Scope</label>
            <select
              id="scope"
              value={scope}
              onChange={(e) => setScope(e.currentTarget.value as 'full' | 'agents')}
              disabled={!can('operator')}
            >
              <option value="full">full</option>
              <option value="agents">agents only</option>
            </select>
            <button
              type="button"
              class="primary"
              disabled={!can('operator') || active}
              aria-describedby={can('operator') ? undefined : 'create-role'}
              onClick={() => void act('Backup', async () => `Backup ${(await api.create(scope)).id} created.`)}
            >
              Create backup
            </button>
            {!can('operator') && (
              <p id="create-role" class="help">
                Needs the operator role; this key is {me.role}.
              </p>
            )}
          </section>
        </div>
        <SizeChart records={records ?? []} />
        <BackupList
          records={records}
          role={me.role}
          disabled={active}
          onVerify={(r) =>
            void act('Verify', async () => {
              await api.verify(r.id);
              return `Backup ${r.id} verified: sound.`;
            })
          }
          onDownload={(r) =>
            void act('Download', async () => {
              const { blob, name } = await api.download(r.id);
              const url = URL.createObjectURL(blob);
              const a = document.createElement('a');
              a.href = url;
              a.download = name;
              a.click();
              setTimeout(() => URL.revokeObjectURL(url), 10_000);
              return `Downloaded ${name} (${formatBytes(blob.size)}).`;
            })
          }
          onDelete={(r) => {
            if (!window.confirm(`Delete backup ${r.id} (${r.file ?? r.path})? This cannot be undone.`)) return;
            void act('Delete', async () => `Backup ${(await api.remove(r.id)).deleted.id} deleted.`);
          }}
          onRestore={(r) => setRestoring(r)}
        />
      </main>
      {restoring && (
        <RestoreDialog
          api={api}
          record={restoring}
          onClose={() => setRestoring(null)}
          onRun={(run) => {
            setRestoring(null);
            void act('Restore', run);
          }}
        />
      )}
    </>
  );
}

function HealthBanner({ health }: { health: ConsoleHealth | null }) {
  if (!health || health.status === 'ok') return null;
  if (health.status === 'restoring') return null;
  return (
    <section class="banner degraded" role="alert" aria-labelledby="degraded-title">
      <h2 id="degraded-title">Degraded</h2>
      {health.reasons && health.reasons.length > 0 ? (
        <ul>
          {health.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      ) : (
        <p>The daemon reports {health.status}.</p>
      )}
    </section>
  );
}

function Progress({ busy, running, restoring }: { busy: string | null; running: boolean; restoring: boolean }) {
  const text = restoring
    ? 'Restore running: the daemon answers only health until it ends…'
    : busy
      ? `${busy} running…`
      : running
        ? 'A backup is running…'
        : null;
  return (
    <div class="progress" role="status" aria-live="polite">
      {text && (
        <>
          <progress aria-label={text} />
          <span>{text}</span>
        </>
      )}
    </div>
  );
}

function StatusPanel({ status }: { status: BackupStatusResponse | null }) {
  if (!status) return <section class="card" aria-busy="true" />;
  const used = status.storage.used_bytes;
  const free = status.storage.free_bytes;
  return (
    <section class="card" aria-labelledby="status-title">
      <h2 id="status-title">Schedule and storage</h2>
      <dl class="facts">
        <dt>Schedule</dt>
        <dd>{status.schedule === '' ? 'off' : <code>{status.schedule}</code>} (UTC)</dd>
        <dt>Next run</dt>
        <dd>{formatTime(status.next_run)}</dd>
        <dt>Last success</dt>
        <dd>{status.last_success ? `${formatTime(status.last_success.at)} (${status.last_success.trigger})` : 'never'}</dd>
        <dt>Last attempt</dt>
        <dd>
          {status.last_attempt
            ? `${formatTime(status.last_attempt.at)}: ${status.last_attempt.ok ? 'ok' : `failed: ${status.last_attempt.error ?? 'unknown error'}`}`
            : 'none'}
        </dd>
        <dt>Storage used</dt>
        <dd>
          {used !== null ? `${formatBytes(used)} in ${status.storage.archives ?? 0} archives` : 'unknown'}
          {free !== null ? `, ${formatBytes(free)} free` : ''}
        </dd>
      </dl>
      {used !== null && free !== null && (
        <meter min={0} max={used + free} value={used} aria-label="Storage used by backups">
          {formatBytes(used)}
        </meter>
      )}
    </section>
  );
}
