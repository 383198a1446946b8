// Explore: a PromQL editor, time range/step/refresh controls, and the result as a graph
// (range query) or a table (instant query at the end of the range). The state lives in
// the URL (?q=&from=&to=&step=&tab=&mode=&refresh=) so a view can be shared or reloaded.
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { errorText, isAbort, queryInstant, queryRange, type QueryData } from '../api';
import { ErrorBox, Warnings } from '../components/common';
import { flushEditors, PromQLEditor } from '../components/Editor';
import { TimeSeriesGraph, useWidth, type GraphSeries } from '../components/Graph';
import { ResultTable } from '../components/ResultTable';
import { RefreshPicker, TimeRangePicker, useInterval } from '../components/TimeRangePicker';
import { chooseStep, formatDuration, parseDuration } from '../lib/duration';
import { alignMatrix, seriesName, type MatrixSeries } from '../lib/series';
import { resolveRange, type TimeRange } from '../lib/time';
import { setSearch } from '../router';

interface GraphResult {
  xs: number[];
  series: GraphSeries[];
  points: number;
}

const MAX_GRAPH_SERIES = 500;
const HISTORY_KEY = 'vigil.explore.history';
const HISTORY_MAX = 30;

function loadHistory(): string[] {
  try {
    const h = JSON.parse(localStorage.getItem(HISTORY_KEY) ?? '[]');
    return Array.isArray(h) ? h.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Remembers an executed query (newest first, no duplicates) in this browser. */
function remember(expr: string): string[] {
  const h = [expr, ...loadHistory().filter((x) => x !== expr)].slice(0, HISTORY_MAX);
  try {
    localStorage.setItem(HISTORY_KEY, JSON.stringify(h));
  } catch {
    // Storage full or disabled: history is a convenience only.
  }
  return h;
}

function readURL() {
  const p = new URLSearchParams(location.search);
  return {
    expr: p.get('q') ?? '',
    range: { from: p.get('from') ?? 'now-1h', to: p.get('to') ?? 'now' },
    step: p.get('step') ?? '',
    tab: p.get('tab') === 'table' ? 'table' : 'graph',
    stacked: p.get('mode') === 'stacked',
    refresh: p.get('refresh') ?? '',
  };
}

export function Explore() {
  const init = useMemo(readURL, []);
  const [expr, setExpr] = useState(init.expr);
  const [ran, setRan] = useState(init.expr); // the expression of the shown result
  const [range, setRange] = useState<TimeRange>(init.range);
  const [stepText, setStepText] = useState(init.step);
  const [tab, setTab] = useState<'graph' | 'table'>(init.tab as 'graph' | 'table');
  const [stacked, setStacked] = useState(init.stacked);
  const [refresh, setRefresh] = useState(init.refresh);
  const [runId, setRunId] = useState(init.expr ? 1 : 0);
  const [history, setHistory] = useState<string[]>(loadHistory);

  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [warnings, setWarnings] = useState<string[]>([]);
  const [graph, setGraph] = useState<GraphResult | null>(null);
  const [table, setTable] = useState<QueryData | null>(null);
  const [info, setInfo] = useState('');

  const resultBox = useRef<HTMLDivElement>(null);
  const width = useWidth(resultBox);

  // The automatic step depends on the range's span and the plot's width; re-running only when
  // it changes keeps window resizes from firing a query per pixel.
  const span = (() => {
    const r = resolveRange(range, Date.now());
    return 'error' in r ? 0 : r.end - r.start;
  })();
  const autoStep = width > 0 && span > 0 ? chooseStep(span, Math.max(100, width - 60)) : 0;

  const stepErr = stepText !== '' && (parseDuration(stepText) ?? 0) <= 0 ? `cannot parse step "${stepText}" (e.g. 15s, 1m)` : null;

  useEffect(() => {
    setSearch({
      q: ran || undefined,
      from: range.from !== 'now-1h' ? range.from : undefined,
      to: range.to !== 'now' ? range.to : undefined,
      step: stepText || undefined,
      tab: tab === 'table' ? 'table' : undefined,
      mode: stacked ? 'stacked' : undefined,
      refresh: refresh || undefined,
    });
  }, [ran, range, stepText, tab, stacked, refresh]);

  // The editor reports its text when typing pauses; the ref always has the newest.
  const exprRef = useRef(expr);
  const onExpr = useCallback((v: string) => {
    exprRef.current = v;
    setExpr(v);
  }, []);
  const run = useCallback(() => {
    flushEditors();
    const e = exprRef.current.trim();
    setRan(e);
    setRunId((n) => n + 1);
    if (e) setHistory(remember(e));
  }, []);

  // Run on every explicit run and whenever the view's parameters change.
  useEffect(() => {
    if (runId === 0 || !ran || width === 0) return;
    if (stepErr) return setError(stepErr);
    const r = resolveRange(range, Date.now());
    if ('error' in r) return setError(r.error);
    const ac = new AbortController();
    setBusy(true);
    const t0 = performance.now();
    const done = (msg: string) => {
      setInfo(`${msg} · ${Math.round(performance.now() - t0)} ms`);
      setError(null);
    };
    (async () => {
      try {
        if (tab === 'graph') {
          const step = stepText ? parseDuration(stepText)! : chooseStep(r.end - r.start, Math.max(100, width - 60));
          // Align the range to the step so refreshes keep the same timestamps.
          const start = Math.floor(r.start / step) * step;
          const end = Math.floor(r.end / step) * step;
          const res = await queryRange(ran, start, end, step, ac.signal);
          setWarnings(res.warnings);
          if (res.data.resultType !== 'matrix') throw new Error(`expected a range vector result, got ${res.data.resultType}`);
          const all = res.data.result as MatrixSeries[];
          const shown = all.slice(0, MAX_GRAPH_SERIES);
          const a = alignMatrix(shown, start / 1000, end / 1000, step / 1000);
          const points = all.reduce((n, s) => n + s.values.length, 0);
          setGraph({ xs: a.xs, series: shown.map((s, i) => ({ name: seriesName(s.metric), values: a.ys[i] })), points });
          if (all.length > shown.length) {
            setWarnings([...res.warnings, `showing the first ${MAX_GRAPH_SERIES} of ${all.length} series; aggregate the query to see all`]);
          }
          done(`${all.length} series · ${points} points · step ${formatDuration(step)}`);
        } else {
          const res = await queryInstant(ran, r.end, ac.signal);
          setWarnings(res.warnings);
          setTable(res.data);
          const n = Array.isArray(res.data.result) && res.data.resultType !== 'scalar' && res.data.resultType !== 'string' ? res.data.result.length : 1;
          done(`${res.data.resultType} · ${n} ${n === 1 ? 'result' : 'results'} at ${new Date(r.end).toLocaleString()}`);
        }
      } catch (e) {
        if (isAbort(e)) return;
        setError(errorText(e));
        setInfo('');
        if (tab === 'graph') setGraph(null);
        else setTable(null);
      } finally {
        if (!ac.signal.aborted) setBusy(false);
      }
    })();
    return () => ac.abort();
  }, [runId, ran, range, stepText, tab, stepText ? 1 : autoStep, width > 0]);

  useInterval(refresh, () => setRunId((n) => n + 1));

  return (
    <div class="page explore">
      <div class="card">
        <div class="editor-row">
          <PromQLEditor value={expr} onChange={onExpr} onSubmit={run} />
          <button class="btn btn-primary" onClick={run} data-testid="run-query">
            {busy ? 'Running…' : 'Run query'}
          </button>
        </div>
        <div class="toolbar">
          <div class="tabs" role="tablist">
            <button role="tab" class={tab === 'graph' ? 'tab active' : 'tab'} onClick={() => setTab('graph')}>
              Graph
            </button>
            <button role="tab" class={tab === 'table' ? 'tab active' : 'tab'} onClick={() => setTab('table')}>
              Table
            </button>
          </div>
          <TimeRangePicker value={range} onChange={setRange} />
          {tab === 'graph' && (
            <div class="ctl-group">
              <label class="ctl-label">
                Step
                <input
                  aria-label="Step"
                  class={stepErr ? 'bad' : ''}
                  placeholder="auto"
                  size={6}
                  value={stepText}
                  onChange={(e) => setStepText((e.target as HTMLInputElement).value.trim())}
                />
              </label>
              <select aria-label="Graph mode" value={stacked ? 'stacked' : 'lines'} onChange={(e) => setStacked((e.target as HTMLSelectElement).value === 'stacked')}>
                <option value="lines">Lines</option>
                <option value="stacked">Stacked</option>
              </select>
            </div>
          )}
          <RefreshPicker value={refresh} onChange={setRefresh} onRefresh={() => setRunId((n) => n + 1)} busy={busy} />
          {history.length > 0 && (
            <select
              aria-label="Recent queries"
              class="history"
              value=""
              onChange={(e) => {
                const v = (e.target as HTMLSelectElement).value;
                if (!v) return;
                onExpr(v);
                run();
              }}
            >
              <option value="">Recent queries…</option>
              {history.map((h) => (
                <option value={h}>{h.length > 90 ? h.slice(0, 90) + '…' : h}</option>
              ))}
            </select>
          )}
        </div>
      </div>
      <div class="card result" ref={resultBox}>
        <ErrorBox error={error} />
        <Warnings warnings={warnings} />
        {!ran && !error && <div class="empty">Enter a PromQL expression above and press Enter, e.g. <code>rate(vigil_http_requests_total[5m])</code>.</div>}
        {info && <div class="muted result-info" data-testid="result-info">{info}</div>}
        {tab === 'graph' && graph && ran && (
          graph.series.length === 0 ? (
            <div class="empty">Empty result: no series matched in this time range.</div>
          ) : (
            <TimeSeriesGraph
              xs={graph.xs}
              series={graph.series}
              stacked={stacked}
              height={320}
              onZoom={(s, e) => setRange({ from: String(s), to: String(e) })}
            />
          )
        )}
        {tab === 'table' && table && ran && <ResultTable data={table} />}
      </div>
    </div>
  );
}
