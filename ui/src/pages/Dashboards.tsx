// Dashboard list, new dashboard, and import of Vigil or Grafana dashboard JSON.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, dashboardsApi, errorText } from '../api';
import { ago, Empty, ErrorBox, Link, Loading } from '../components/common';
import { convertGrafanaDashboard, looksLikeGrafana } from '../lib/grafana';
import { validateDashboard, type Dashboard, type DashboardSummary } from '../lib/model';
import { navigate } from '../router';

export function Dashboards() {
  const [list, setList] = useState<DashboardSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  const [importing, setImporting] = useState(false);

  useEffect(() => {
    dashboardsApi
      .list()
      .then((r) => setList(r.data ?? []))
      .catch((e) => setError(`cannot list dashboards: ${errorText(e)}`));
  }, []);

  const f = filter.trim().toLowerCase();
  const shown = (list ?? []).filter((d) => !f || d.title.toLowerCase().includes(f) || d.tags?.some((t) => t.toLowerCase().includes(f)));

  return (
    <div class="page">
      <div class="page-head">
        <h1>Dashboards</h1>
        <div class="head-actions">
          <input type="search" placeholder="Filter by title or tag" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} aria-label="Filter dashboards" />
          <button class="btn" onClick={() => setImporting(true)}>Import…</button>
          <button class="btn btn-primary" onClick={() => navigate('/ui/dashboards/new')}>+ New dashboard</button>
        </div>
      </div>
      <ErrorBox error={error} />
      {!list && !error && <Loading what="dashboards" />}
      {list && shown.length === 0 && <Empty>{list.length === 0 ? 'No dashboards yet. Create one or import a Grafana dashboard.' : 'No dashboard matches the filter.'}</Empty>}
      {shown.length > 0 && (
        <div class="card table-wrap">
          <table class="table" data-testid="dashboard-list">
            <thead>
              <tr>
                <th>Title</th>
                <th>Tags</th>
                <th class="num hide-narrow">Version</th>
                <th class="hide-narrow">Updated</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((d) => (
                <tr>
                  <td>
                    <Link href={`/ui/dashboards/${encodeURIComponent(d.uid)}`}>{d.title}</Link>
                  </td>
                  <td>
                    {(d.tags ?? []).map((t) => (
                      <span class="tag">{t}</span>
                    ))}
                  </td>
                  <td class="num hide-narrow">{d.version}</td>
                  <td class="hide-narrow" title={d.updated}>{ago(d.updated)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {importing && <ImportDialog onClose={() => setImporting(false)} />}
    </div>
  );
}

function ImportDialog({ onClose }: { onClose: () => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [warnings, setWarnings] = useState<string[]>([]);
  const [pending, setPending] = useState<Dashboard | null>(null);
  const [exists, setExists] = useState(false);
  const [busy, setBusy] = useState(false);

  const parse = (): Dashboard | null => {
    setError(null);
    setWarnings([]);
    let j: any;
    try {
      j = JSON.parse(text);
    } catch (e) {
      setError(`cannot parse JSON: ${(e as Error).message}`);
      return null;
    }
    let d: Dashboard = j;
    if (looksLikeGrafana(j)) {
      try {
        const r = convertGrafanaDashboard(j);
        d = r.dashboard;
        setWarnings(r.warnings);
      } catch (e) {
        setError((e as Error).message);
        return null;
      }
    }
    const errs = validateDashboard(d);
    if (errs.length) {
      setError(`not a valid dashboard: ${errs.join('; ')}`);
      return null;
    }
    delete d.version;
    return d;
  };

  const doImport = async (d: Dashboard) => {
    setBusy(true);
    try {
      const r = await dashboardsApi.create(d);
      navigate(`/ui/dashboards/${encodeURIComponent(r.data.uid)}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        setPending(d);
        setExists(true);
        setError(`a dashboard with uid "${d.uid}" already exists`);
      } else setError(`cannot import: ${errorText(e)}`);
    } finally {
      setBusy(false);
    }
  };

  const onFile = async (e: Event) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) setText(await file.text());
  };

  return (
    <div class="modal-back" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal" role="dialog" aria-label="Import dashboard">
        <div class="modal-head">
          <h2>Import dashboard</h2>
          <button class="btn btn-icon" title="Close" onClick={onClose}>✕</button>
        </div>
        <p class="muted small">
          Paste a Vigil dashboard or a Grafana dashboard JSON (timeseries/graph, stat, table, heatmap, bar gauge and gauge panels with PromQL
          targets; label_values() and custom variables are converted).
        </p>
        <input type="file" accept=".json,application/json" onChange={onFile} aria-label="JSON file" />
        <textarea class="json-edit" spellcheck={false} placeholder='{"title": "...", "panels": [...]}' value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} aria-label="Dashboard JSON" />
        <ErrorBox error={error} />
        {warnings.length > 0 && (
          <div class="msg msg-warn">
            <strong>Converted with {warnings.length} note(s):</strong>
            <ul>{warnings.map((w) => <li>{w}</li>)}</ul>
          </div>
        )}
        <div class="modal-foot">
          <button class="btn" onClick={onClose}>Cancel</button>
          {exists && pending && (
            <>
              <button class="btn" disabled={busy} onClick={() => doImport({ ...pending, uid: undefined })}>Import as a copy</button>
              <button class="btn btn-danger" disabled={busy} onClick={async () => {
                try {
                  await dashboardsApi.save(pending.uid!, pending);
                  navigate(`/ui/dashboards/${encodeURIComponent(pending.uid!)}`);
                } catch (e) {
                  setError(`cannot overwrite: ${errorText(e)}`);
                }
              }}>Overwrite existing</button>
            </>
          )}
          <button class="btn btn-primary" disabled={busy || !text.trim()} onClick={() => {
            setExists(false);
            const d = parse();
            if (d) doImport(d);
          }}>Import</button>
        </div>
      </div>
    </div>
  );
}
