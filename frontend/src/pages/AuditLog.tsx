import { useState, type FormEvent } from 'react';
import { EmptyState, ErrorState, Loading, PageHeader } from '../components/ui';
import { api } from '../lib/api';
import { describeResource, detailLines } from '../lib/audit';
import { formatDateTime, fromLocalInput, toLocalInput } from '../lib/format';
import { useAsync, useDocumentTitle } from '../lib/hooks';
import { navigate, useLocation } from '../lib/router';
import type { AuditEntry } from '../lib/types';

export const PAGE_SIZE = 50;

/** Common actions for the filter's suggestions; the field accepts any text. */
const ACTIONS = [
  'auth.login',
  'auth.login_failed',
  'auth.logout',
  'auth.password_change',
  'setup.admin',
  'setup.server',
  'setup.complete',
  'network.create',
  'network.update',
  'network.delete',
  'network.enable',
  'network.disable',
  'network.import',
  'peer.create',
  'peer.update',
  'peer.delete',
  'peer.enable',
  'peer.disable',
  'peer.expire',
  'bridge.create',
  'bridge.update',
  'bridge.delete',
  'alert.create',
  'alert.update',
  'alert.delete',
  'settings.update',
  'settings.smtp_test',
  'system.backup',
  'system.restore',
];

export interface AuditFilter {
  action: string;
  from: number | null;
  to: number | null;
  page: number;
}

export function filterFromQuery(q: URLSearchParams): AuditFilter {
  const num = (k: string) => {
    const v = q.get(k);
    return v && /^\d+$/.test(v) ? Number(v) : null;
  };
  return { action: q.get('action') ?? '', from: num('from'), to: num('to'), page: Math.max(1, num('page') ?? 1) };
}

export function queryFromFilter(f: AuditFilter): string {
  const q = new URLSearchParams();
  if (f.action) q.set('action', f.action);
  if (f.from !== null) q.set('from', String(f.from));
  if (f.to !== null) q.set('to', String(f.to));
  if (f.page > 1) q.set('page', String(f.page));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** "Showing 51–100 of 230" */
export function pageSummary(page: number, pageSize: number, total: number, shown: number): string {
  if (total === 0 || shown === 0) return 'No entries';
  const first = (page - 1) * pageSize + 1;
  return `Showing ${first}–${first + shown - 1} of ${total}`;
}

function Detail({ entry }: { entry: AuditEntry }) {
  const lines = detailLines(entry.detail);
  if (lines.length === 0) return <span className="muted">—</span>;
  const list = (
    <dl className="detail-lines">
      {lines.map((l, i) => (
        <div key={i}>
          <dt>{l.label}</dt>
          <dd>{l.value}</dd>
        </div>
      ))}
    </dl>
  );
  // A few lines are shown as they are; a long detail (a whole peer) folds away.
  if (lines.length <= 3) return list;
  return (
    <details>
      <summary>{`${lines.length} fields`}</summary>
      {list}
    </details>
  );
}

export default function AuditLog() {
  useDocumentTitle('Audit log');
  const loc = useLocation();
  const filter = filterFromQuery(loc.query);
  const [draft, setDraft] = useState({ action: filter.action, from: toLocalInput(filter.from), to: toLocalInput(filter.to) });
  const [rangeError, setRangeError] = useState<string | null>(null);
  const key = queryFromFilter(filter);
  const data = useAsync(
    () =>
      api.audit.list({
        action: filter.action || undefined,
        from: filter.from ?? undefined,
        to: filter.to ?? undefined,
        limit: PAGE_SIZE,
        offset: (filter.page - 1) * PAGE_SIZE,
      }),
    [key],
  );

  const apply = (e: FormEvent) => {
    e.preventDefault();
    const from = fromLocalInput(draft.from);
    const to = fromLocalInput(draft.to);
    if (from !== null && to !== null && from > to) {
      setRangeError('“From” must be before “to”.');
      return;
    }
    setRangeError(null);
    navigate(`/audit${queryFromFilter({ action: draft.action.trim(), from, to, page: 1 })}`);
  };
  const clear = () => {
    setDraft({ action: '', from: '', to: '' });
    setRangeError(null);
    navigate('/audit');
  };
  const goPage = (page: number) => navigate(`/audit${queryFromFilter({ ...filter, page })}`);
  const total = data.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const filtered = Boolean(filter.action || filter.from !== null || filter.to !== null);

  return (
    <>
      <PageHeader title="Audit log" subtitle="Every change made through the web UI, the API or the CLI, and every sign-in." />
      <form className="filters" onSubmit={apply} aria-label="Filter the audit log">
        <div className="field">
          <label htmlFor="audit-action">Action</label>
          <input id="audit-action" list="audit-actions" value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.target.value })} placeholder="e.g. peer.create" spellCheck={false} autoCapitalize="none" />
          <datalist id="audit-actions">
            {ACTIONS.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </div>
        <div className={`field ${rangeError ? 'has-error' : ''}`}>
          <label htmlFor="audit-from">From</label>
          <input id="audit-from" type="datetime-local" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.target.value })} aria-invalid={rangeError ? true : undefined} aria-describedby={rangeError ? 'audit-range-err' : undefined} />
        </div>
        <div className="field">
          <label htmlFor="audit-to">To</label>
          <input id="audit-to" type="datetime-local" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} />
        </div>
        <div className="filter-buttons">
          <button type="submit" className="btn btn-primary">
            Apply
          </button>
          {filtered && (
            <button type="button" className="btn" onClick={clear}>
              Clear
            </button>
          )}
        </div>
        {rangeError && (
          <p className="field-error full" id="audit-range-err" role="alert">
            {rangeError}
          </p>
        )}
      </form>
      {data.loading && !data.data ? (
        <Loading rows={6} />
      ) : data.error ? (
        <ErrorState error={data.error} onRetry={data.reload} />
      ) : !data.data || data.data.items.length === 0 ? (
        <EmptyState title={filtered ? 'Nothing matches these filters' : 'No entries yet'} action={filtered ? <button type="button" className="btn" onClick={clear}>Clear filters</button> : undefined}>
          {filtered ? 'Try a wider time range or another action.' : 'Changes will be recorded here.'}
        </EmptyState>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table responsive" data-testid="audit-table" aria-busy={data.loading}>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">User</th>
                  <th scope="col">Action</th>
                  <th scope="col">Resource</th>
                  <th scope="col">IP address</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {data.data.items.map((e) => (
                  <tr key={e.id}>
                    <td data-label="Time" className="nowrap">
                      {formatDateTime(e.timestamp)}
                    </td>
                    <td data-label="User">{e.username ?? (e.user_id !== null ? `#${e.user_id}` : 'system')}</td>
                    <td data-label="Action" className="mono">
                      {e.action}
                    </td>
                    <td data-label="Resource" title={e.resource}>
                      {describeResource(e)}
                    </td>
                    <td data-label="IP address" className="mono">
                      {e.ip_address ?? '—'}
                    </td>
                    <td data-label="Detail">
                      <Detail entry={e} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pagination" aria-label="Pages">
            <span>{pageSummary(filter.page, PAGE_SIZE, total, data.data.items.length)}</span>
            <div className="button-row">
              <button type="button" className="btn btn-small" onClick={() => goPage(filter.page - 1)} disabled={filter.page <= 1}>
                ← Newer
              </button>
              <span className="muted small">
                Page {filter.page} of {pages}
              </span>
              <button type="button" className="btn btn-small" onClick={() => goPage(filter.page + 1)} disabled={filter.page >= pages}>
                Older →
              </button>
            </div>
          </nav>
        </>
      )}
    </>
  );
}
