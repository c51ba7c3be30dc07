import { useRef, useState } from 'react';
import { ConfirmDialog } from '../components/Modal';
import { useToast } from '../components/Toast';
import { Badge, Card, ErrorState, Loading, Notice, PageHeader } from '../components/ui';
import { api } from '../lib/api';
import { saveBlob } from '../lib/clipboard';
import { describeError } from '../lib/errors';
import { formatBytes, formatDateTime, formatDuration, relativeTime } from '../lib/format';
import { useAsync, useDocumentTitle, useNow } from '../lib/hooks';
import type { UpdateInfo } from '../lib/types';

/** The server refuses archives above 256 MiB (413); say so before uploading. */
const MAX_RESTORE_BYTES = 256 * 1024 * 1024;

function ChannelSelect() {
  const toast = useToast();
  const settings = useAsync(() => api.settings.get(), []);
  const [saving, setSaving] = useState(false);
  const channel = settings.data?.update_channel ?? 'stable';
  const change = async (value: string) => {
    setSaving(true);
    try {
      settings.setData(await api.settings.update({ update_channel: value }));
      toast(`Update channel set to ${value}.`);
    } catch (e) {
      toast(describeError(e), 'bad');
    } finally {
      setSaving(false);
    }
  };
  if (!settings.data) return null;
  return (
    <div className="field field-inline">
      <label htmlFor="update-channel">Channel</label>
      <select id="update-channel" value={channel} onChange={(e) => void change(e.target.value)} disabled={saving}>
        <option value="stable">stable</option>
        <option value="beta">beta</option>
      </select>
    </div>
  );
}

function UpdateCard({ initial }: { initial: UpdateInfo | null }) {
  const now = useNow(30_000);
  const [info, setInfo] = useState<UpdateInfo | null>(initial);
  const [checking, setChecking] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const check = async () => {
    setChecking(true);
    setError(null);
    try {
      setInfo({ ...(await api.system.checkUpdate()), checked_at: Math.floor(now) });
    } catch (e) {
      setError(e);
    } finally {
      setChecking(false);
    }
  };
  return (
    <Card
      title="Updates"
      actions={
        <button type="button" className="btn btn-small" onClick={() => void check()} disabled={checking}>
          {checking ? 'Checking…' : 'Check for updates'}
        </button>
      }
    >
      {info && (info.available || info.latest) ? (
        <>
          {info.available ? (
            <Notice tone="info">
              Version {info.latest} is available (running {info.current}). Install it on the server with <code>sudo wgpilot update</code>; it is verified
              and rolled back automatically if it does not come up healthy.
            </Notice>
          ) : (
            <Notice tone="ok">wgpilot {info.current} is the latest version.</Notice>
          )}
          {info.checked_at ? <p className="muted small">Last checked {relativeTime(info.checked_at, now)}.</p> : null}
        </>
      ) : (
        <p className="muted">Not checked yet.</p>
      )}
      {error !== null && <Notice tone="bad">{describeError(error)}</Notice>}
      <ChannelSelect />
    </Card>
  );
}

function BackupCard() {
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const [file, setFile] = useState<File | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);

  const backup = async () => {
    setBusy(true);
    try {
      const { blob, filename } = await api.system.backup();
      const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
      saveBlob(blob, filename ?? `wgpilot-backup-${stamp}.tar`);
      toast('Backup downloaded.');
    } catch (e) {
      toast(describeError(e), 'bad');
    } finally {
      setBusy(false);
    }
  };

  const pick = (f: File | null) => {
    setResult(null);
    setFileError(null);
    if (f && f.size === 0) setFileError('This file is empty.');
    else if (f && f.size > MAX_RESTORE_BYTES) setFileError('This file is larger than 256 MiB, too large to be a wgpilot backup.');
    setFile(f);
  };

  return (
    <Card title="Backup and restore">
      <div className="stack">
        <div>
          <p>A backup is one archive with a consistent copy of the database (networks, peers, settings, history) and the master key.</p>
          <p className="field-hint">It contains the key that decrypts every WireGuard private key: keep it as safe as the server itself.</p>
          <button type="button" className="btn btn-primary" onClick={() => void backup()} disabled={busy}>
            {busy ? 'Preparing…' : 'Download backup'}
          </button>
        </div>
        <hr />
        <div className="stack-sm">
          <div className={`field ${fileError ? 'has-error' : ''}`}>
            <label htmlFor="restore-file">Restore from a backup file</label>
            <input
              id="restore-file"
              ref={input}
              type="file"
              accept=".tar,application/x-tar,application/octet-stream"
              onChange={(e) => pick(e.target.files?.[0] ?? null)}
              aria-invalid={fileError ? true : undefined}
              aria-describedby={fileError ? 'restore-err' : 'restore-hint'}
            />
            <p className="field-hint" id="restore-hint">
              A wgpilot-backup-….tar file. It is checked completely before anything is replaced; the current state is kept on the server under backups/.
            </p>
            {fileError && (
              <p className="field-error" id="restore-err">
                {fileError}
              </p>
            )}
          </div>
          <div>
            <button type="button" className="btn btn-danger" disabled={!file || !!fileError} onClick={() => setConfirming(true)}>
              Restore…
            </button>
          </div>
          {result && <Notice tone="ok">{result}</Notice>}
        </div>
      </div>
      {confirming && file && (
        <ConfirmDialog
          title="Restore this backup?"
          confirmLabel="Replace everything and restore"
          onClose={() => setConfirming(false)}
          onConfirm={async () => {
            const r = await api.system.restore(file);
            setResult(`Restored ${r.networks} networks and ${r.peers} peers from ${file.name}.`);
            setFile(null);
            if (input.current) input.current.value = '';
          }}
        >
          <p>
            All current networks, peers, bridges, alerts and settings are replaced by the contents of <strong>{file.name}</strong> ({formatBytes(file.size)}).
            Peers created since that backup lose access. You may have to sign in again.
          </p>
        </ConfirmDialog>
      )}
    </Card>
  );
}

export default function System() {
  useDocumentTitle('System');
  const info = useAsync(() => api.system.info(), []);
  const i = info.data;
  return (
    <>
      <PageHeader title="System" />
      {info.loading && !i ? (
        <Loading rows={5} />
      ) : info.error || !i ? (
        <ErrorState error={info.error} onRetry={info.reload} />
      ) : (
        <>
          <Card title="About this server">
            <dl className="facts" data-testid="system-info">
              <div>
                <dt>Version</dt>
                <dd>
                  {i.version} {i.update?.available && <Badge tone="info">update available</Badge>}
                </dd>
              </div>
              <div>
                <dt>Commit</dt>
                <dd className="mono">{i.commit ? i.commit.slice(0, 12) : '—'}</dd>
              </div>
              <div>
                <dt>Built</dt>
                <dd>{i.build_date ?? '—'}</dd>
              </div>
              <div>
                <dt>Uptime</dt>
                <dd>{formatDuration(i.uptime)}</dd>
              </div>
              <div>
                <dt>WireGuard driver</dt>
                <dd>{i.driver}</dd>
              </div>
              <div>
                <dt>Hostname</dt>
                <dd>{i.hostname}</dd>
              </div>
              <div>
                <dt>Kernel</dt>
                <dd className="break">{i.kernel}</dd>
              </div>
              <div>
                <dt>Python</dt>
                <dd>{i.python}</dd>
              </div>
              <div className="wide">
                <dt>Database</dt>
                <dd className="break">
                  <span className="mono">{i.database.path}</span> · {formatBytes(i.database.size_bytes)} · schema {i.database.schema_version}
                </dd>
              </div>
            </dl>
            {i.update?.checked_at ? <p className="muted small">Update information from {formatDateTime(i.update.checked_at)}.</p> : null}
          </Card>
          <UpdateCard initial={i.update} />
          <BackupCard />
        </>
      )}
    </>
  );
}
