// Status: build and runtime information, TSDB head statistics with a cardinality explorer
// (top metrics, label names and label=value pairs by series count), configuration, flags.
import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { ErrorBox, Loading } from '../components/common';

interface Count {
  name: string;
  value: number;
}

interface Tsdb {
  headStats: { numSeries: number; numLabelPairs: number; chunkCount: number; minTime: number; maxTime: number };
  seriesCountByMetricName: Count[];
  labelValueCountByLabelName: Count[];
  memoryInBytesByLabelName: Count[];
  seriesCountByLabelValuePair: Count[];
}

function useOnce<T>(path: string) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<T>(path)
      .then((r) => setData(r.data))
      .catch((e) => setError(errorText(e)));
  }, [path]);
  return { data, error };
}

function KeyValues({ data }: { data: Record<string, unknown> }) {
  return (
    <table class="table kv">
      <tbody>
        {Object.entries(data).map(([k, v]) => (
          <tr>
            <th>{k}</th>
            <td class="mono">{typeof v === 'object' ? JSON.stringify(v) : String(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

type Tab = 'tsdb' | 'info' | 'config' | 'flags';

export function Status() {
  const initial = (new URLSearchParams(location.search).get('tab') as Tab) || 'tsdb';
  const [tab, setTab] = useState<Tab>(initial);
  return (
    <div class="page">
      <div class="page-head">
        <h1>Status</h1>
        <div class="tabs">
          {([
            ['tsdb', 'TSDB & cardinality'],
            ['info', 'Build & runtime'],
            ['config', 'Configuration'],
            ['flags', 'Flags'],
          ] as [Tab, string][]).map(([t, label]) => (
            <button class={tab === t ? 'tab active' : 'tab'} onClick={() => setTab(t)}>{label}</button>
          ))}
        </div>
      </div>
      {tab === 'tsdb' && <TsdbStatus />}
      {tab === 'info' && <BuildInfo />}
      {tab === 'config' && <Config />}
      {tab === 'flags' && <Flags />}
    </div>
  );
}

function TsdbStatus() {
  const [limit, setLimit] = useState(10);
  const { data, error } = useOnce<Tsdb>(`/api/v1/status/tsdb?limit=${limit}`);
  const [filter, setFilter] = useState('');
  if (error) return <ErrorBox error={error} />;
  if (!data) return <Loading what="TSDB status" />;
  const h = data.headStats;
  const t = (ms: number) => (ms > 0 && ms < 1e15 ? new Date(ms).toLocaleString() : '–');
  return (
    <>
      <div class="stats-row">
        <div class="card stat-card"><div class="muted small">Series</div><div class="big" data-testid="num-series">{h.numSeries.toLocaleString()}</div></div>
        <div class="card stat-card"><div class="muted small">Label pairs</div><div class="big">{h.numLabelPairs.toLocaleString()}</div></div>
        <div class="card stat-card"><div class="muted small">Chunks</div><div class="big">{h.chunkCount.toLocaleString()}</div></div>
        <div class="card stat-card"><div class="muted small">Head time range</div><div class="small">{t(h.minTime)}<br />{t(h.maxTime)}</div></div>
      </div>
      <div class="toolbar">
        <label class="ctl-label">
          Show top
          <select value={limit} onChange={(e) => setLimit(Number((e.target as HTMLSelectElement).value))} aria-label="Top N">
            {[10, 20, 50, 100].map((n) => <option value={n}>{n}</option>)}
          </select>
        </label>
        <input type="search" placeholder="Filter names" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} aria-label="Filter" />
        <span class="muted small">Click a metric or label to see its series in Explore.</span>
      </div>
      <div class="card-grid">
        <CountTable title="Top metrics by series count" rows={data.seriesCountByMetricName} total={h.numSeries} filter={filter}
          href={(n) => `/ui/explore?${new URLSearchParams({ q: `count by (__name__) ({__name__=${JSON.stringify(n)}})`, tab: 'table' })}`} />
        <CountTable title="Label names by number of values" rows={data.labelValueCountByLabelName} filter={filter}
          href={(n) => `/ui/explore?${new URLSearchParams({ q: `count by (${n}) ({${n}!=""})`, tab: 'table' })}`} />
        <CountTable title="Label=value pairs by series count" rows={data.seriesCountByLabelValuePair} total={h.numSeries} filter={filter}
          href={(n) => {
            const i = n.indexOf('=');
            const sel = i > 0 ? `{${n.slice(0, i)}=${JSON.stringify(n.slice(i + 1))}}` : n;
            return `/ui/explore?${new URLSearchParams({ q: `count by (__name__) (${sel})`, tab: 'table' })}`;
          }} />
        <CountTable title="Label names by memory (bytes)" rows={data.memoryInBytesByLabelName} filter={filter} />
      </div>
    </>
  );
}

function CountTable({ title, rows, total, filter, href }: { title: string; rows: Count[]; total?: number; filter: string; href?: (n: string) => string }) {
  const f = filter.trim().toLowerCase();
  const shown = (rows ?? []).filter((r) => !f || r.name.toLowerCase().includes(f));
  const max = Math.max(1, ...shown.map((r) => r.value));
  return (
    <div class="card">
      <h2>{title}</h2>
      {shown.length === 0 ? (
        <div class="muted">None.</div>
      ) : (
        <table class="table count-table">
          <tbody>
            {shown.map((r) => (
              <tr>
                <td class="mono name-cell" title={r.name}>{href ? <a href={href(r.name)}>{r.name}</a> : r.name}</td>
                <td class="num">{r.value.toLocaleString()}</td>
                <td class="bar-cell hide-narrow">
                  <div class="mini-bar" style={{ width: `${(r.value / max) * 100}%` }} />
                </td>
                {total !== undefined && <td class="num muted small hide-narrow">{total > 0 ? ((r.value / total) * 100).toFixed(1) : '0'}%</td>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function BuildInfo() {
  const build = useOnce<Record<string, unknown>>('/api/v1/status/buildinfo');
  const runtime = useOnce<Record<string, unknown>>('/api/v1/status/runtimeinfo');
  return (
    <div class="card-grid">
      <div class="card">
        <h2>Build information</h2>
        <ErrorBox error={build.error} />
        {build.data ? <KeyValues data={build.data} /> : !build.error && <Loading />}
      </div>
      <div class="card">
        <h2>Runtime information</h2>
        <ErrorBox error={runtime.error} />
        {runtime.data ? <KeyValues data={runtime.data} /> : !runtime.error && <Loading />}
      </div>
    </div>
  );
}

function Config() {
  const { data, error } = useOnce<{ yaml: string }>('/api/v1/status/config');
  return (
    <div class="card">
      <ErrorBox error={error} />
      {data ? <pre class="config">{data.yaml || '(empty: Vigil runs on built-in defaults)'}</pre> : !error && <Loading />}
    </div>
  );
}

function Flags() {
  const { data, error } = useOnce<Record<string, string>>('/api/v1/status/flags');
  const [filter, setFilter] = useState('');
  const f = filter.toLowerCase();
  return (
    <div class="card">
      <input type="search" placeholder="Filter flags" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} aria-label="Filter flags" />
      <ErrorBox error={error} />
      {data ? (
        <KeyValues data={Object.fromEntries(Object.entries(data).filter(([k, v]) => !f || k.toLowerCase().includes(f) || v.toLowerCase().includes(f)))} />
      ) : (
        !error && <Loading />
      )}
    </div>
  );
}
