// One dashboard panel: runs its targets (variables substituted) over the shared time range
// and draws them as a time series graph, stat, table, heatmap or bar gauge.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { errorText, isAbort, queryInstant, queryRange } from '../api';
import { chooseStep } from '../lib/duration';
import { thresholdColor, type Panel } from '../lib/model';
import { alignMatrix, formatLegend, heatmapFromBuckets, parseSampleValue, type HeatmapData, type MatrixSeries } from '../lib/series';
import { resolveRange, type TimeRange } from '../lib/time';
import { formatValue } from '../lib/units';
import { substituteVariables, type VariableValue } from '../lib/variables';
import { TimeSeriesGraph, useWidth, type GraphSeries } from './Graph';
import { Heatmap } from './Heatmap';

/** Grafana's named colours, as a dashboard's thresholds use them. */
const NAMED: Record<string, string> = {
  green: 'var(--th-green)', 'dark-green': '#19730e', 'semi-dark-green': '#37872d', 'light-green': '#73bf69',
  red: 'var(--th-red)', 'dark-red': '#ad0317', 'semi-dark-red': '#c4162a', 'light-red': '#ff7383',
  orange: '#ff780a', 'dark-orange': '#e55400', 'light-orange': '#ffb357',
  yellow: '#e0b400', 'dark-yellow': '#cc9d00', 'light-yellow': '#ffee52',
  blue: '#3274d9', 'dark-blue': '#1f60c4', 'light-blue': '#8ab8ff',
  purple: '#a352cc', 'dark-purple': '#8f3bb8', 'light-purple': '#ca95e5',
  text: 'var(--fg)', transparent: 'transparent',
};

export function cssColor(c: string | null | undefined, fallback = 'var(--fg)'): string {
  if (!c) return fallback;
  return NAMED[c] ?? c;
}

interface Instant {
  name: string;
  value: number;
  metric: Record<string, string>;
}

type Result =
  | { kind: 'graph'; xs: number[]; series: GraphSeries[] }
  | { kind: 'heatmap'; data: HeatmapData }
  | { kind: 'instant'; rows: Instant[] };

export function PanelView(props: { panel: Panel; range: TimeRange; vars: Record<string, VariableValue>; tick: number; height: number }) {
  const { panel, range, vars, tick, height } = props;
  const box = useRef<HTMLDivElement>(null);
  const width = useWidth(box);
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [warnings, setWarnings] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);

  const span = useMemo(() => {
    const r = resolveRange(range, Date.now());
    return 'error' in r ? 0 : r.end - r.start;
  }, [range]);
  const step = width > 0 && span > 0 ? chooseStep(span, Math.max(50, width - 50)) : 0;
  const exprs = panel.targets.map((t) => substituteVariables(t.expr, vars, { stepMs: step || 15_000, rangeMs: span }));
  const key = JSON.stringify([panel.type, exprs, panel.targets.map((t) => t.legendFormat)]);

  useEffect(() => {
    if (step === 0) return;
    const targets = panel.targets.map((t, i) => ({ ...t, expr: exprs[i] })).filter((t) => t.expr.trim() !== '');
    if (targets.length === 0) {
      setResult(null);
      setError(null);
      return;
    }
    const r = resolveRange(range, Date.now());
    if ('error' in r) return setError(r.error);
    const ac = new AbortController();
    setBusy(true);
    (async () => {
      try {
        const warn: string[] = [];
        if (panel.type === 'timeseries' || panel.type === 'heatmap') {
          const start = Math.floor(r.start / step) * step;
          const end = Math.floor(r.end / step) * step;
          const all: { s: MatrixSeries; legend?: string }[] = [];
          const results = await Promise.all(targets.map((t) => queryRange(t.expr, start, end, step, ac.signal)));
          results.forEach((res, i) => {
            warn.push(...res.warnings);
            if (res.data.resultType !== 'matrix') throw new Error(`target ${i + 1}: expected a range vector, got ${res.data.resultType}`);
            for (const s of res.data.result as MatrixSeries[]) all.push({ s, legend: targets[i].legendFormat });
          });
          if (panel.type === 'heatmap') {
            const h = heatmapFromBuckets(all.map((x) => x.s), start / 1000, end / 1000, step / 1000);
            if ('error' in h) throw new Error(h.error);
            setResult({ kind: 'heatmap', data: h });
          } else {
            const a = alignMatrix(all.map((x) => x.s), start / 1000, end / 1000, step / 1000);
            const names = new Map<string, number>();
            const series = all.map((x, i) => {
              let name = formatLegend(x.legend, x.s.metric) || '{}';
              const n = names.get(name) ?? 0;
              names.set(name, n + 1);
              if (n > 0) name = `${name} (${n + 1})`; // uPlot needs distinct names for toggling
              return { name, values: a.ys[i] };
            });
            setResult({ kind: 'graph', xs: a.xs, series });
          }
        } else {
          const rows: Instant[] = [];
          const results = await Promise.all(targets.map((t) => queryInstant(t.expr, r.end, ac.signal)));
          results.forEach((res, i) => {
            warn.push(...res.warnings);
            const d = res.data;
            if (d.resultType === 'scalar') rows.push({ name: formatLegend(targets[i].legendFormat, {}) || 'scalar', value: parseSampleValue(d.result[1]), metric: {} });
            else if (d.resultType === 'vector') {
              for (const s of d.result) rows.push({ name: formatLegend(targets[i].legendFormat, s.metric), value: parseSampleValue(s.value[1]), metric: s.metric });
            } else throw new Error(`target ${i + 1}: expected an instant vector or scalar, got ${d.resultType}`);
          });
          setResult({ kind: 'instant', rows });
        }
        setWarnings(warn);
        setError(null);
      } catch (e) {
        if (isAbort(e)) return;
        setError(errorText(e));
        setResult(null);
      } finally {
        if (!ac.signal.aborted) setBusy(false);
      }
    })();
    return () => ac.abort();
  }, [key, range, step, tick]);

  return (
    <div class={`panel-body${busy ? ' busy' : ''}`} ref={box} data-panel-type={panel.type}>
      {error && <div class="panel-error" title={error}>{error}</div>}
      {!error && warnings.length > 0 && <div class="panel-warn" title={warnings.join('\n')}>⚠ {warnings[0]}</div>}
      {!error && panel.targets.every((t) => !t.expr.trim()) && <div class="empty">No query yet: edit the panel to add one.</div>}
      {!error && result && <PanelContent panel={panel} result={result} width={width} height={height - (warnings.length ? 20 : 0)} />}
    </div>
  );
}

/** Lines the legend under a graph will take (at most 3; it scrolls beyond). */
function legendLines(names: string[], width: number): number {
  // Legend entries: 12px monospace (~7.2px a character), a 15px swatch, 14px gaps.
  let lines = 1;
  let x = 0;
  for (const n of names) {
    const w = Math.min(width, n.length * 7.2 + 29);
    if (x > 0 && x + w > width) {
      lines++;
      x = 0;
    }
    x += w;
  }
  return Math.min(3, lines);
}

function PanelContent({ panel, result, width, height }: { panel: Panel; result: Result; width: number; height: number }) {
  const unit = panel.unit;
  const dec = panel.decimals;
  if (result.kind === 'graph') {
    if (result.series.length === 0) return <div class="empty">No data</div>;
    const lines = legendLines(result.series.map((s) => s.name), width);
    return (
      <TimeSeriesGraph
        xs={result.xs}
        series={result.series}
        stacked={!!panel.stacked}
        unit={unit}
        decimals={dec}
        height={Math.max(60, height - lines * 18 - 8)}
        legend
      />
    );
  }
  if (result.kind === 'heatmap') return <Heatmap data={result.data} height={Math.max(60, height - 24)} unit={unit} />;
  const rows = result.rows;
  if (rows.length === 0) return <div class="empty">No data</div>;
  if (panel.type === 'stat') {
    const shown = rows.slice(0, 24);
    // Fit the numbers into the panel: as many columns as fit ~160px, then the font size
    // that lets the longest value fit its cell's width (about 0.6em a character) and height.
    const cols = shown.length <= 1 ? 1 : Math.max(1, Math.min(shown.length, Math.floor(width / 160)));
    const lines = Math.ceil(shown.length / cols);
    const texts = shown.map((r) => formatValue(r.value, unit, dec));
    const longest = texts.reduce((m, t) => Math.max(m, t.length), 1);
    const cellH = height / lines - (shown.length > 1 ? 18 : 0);
    const size = Math.max(12, Math.min(56, cellH * 0.7, (width / cols - 16) / (longest * 0.62)));
    return (
      <div class="stat-grid">
        {shown.map((r, i) => (
          <div class="stat" style={{ width: `${Math.floor(100 / cols) - 2}%` }}>
            <div class="stat-value" style={{ color: cssColor(thresholdColor(r.value, panel.thresholds)), fontSize: `${size}px` }}>
              {texts[i]}
            </div>
            {shown.length > 1 && <div class="stat-name" title={r.name}>{r.name}</div>}
          </div>
        ))}
      </div>
    );
  }
  if (panel.type === 'bargauge') {
    const top = Math.max(...(panel.thresholds ?? []).map((t) => t.value ?? 0), 0);
    const max = unit === 'percentunit' ? 1 : unit === 'percent' ? 100 : Math.max(top, ...rows.map((r) => r.value)) || 1;
    return (
      <div class="bargauge">
        {rows.slice(0, 50).map((r) => {
          const pct = Math.max(0, Math.min(100, (r.value / max) * 100));
          return (
            <div class="bar-row">
              <div class="bar-name" title={r.name}>{r.name}</div>
              <div class="bar-track">
                <div class="bar-fill" style={{ width: `${pct}%`, background: cssColor(thresholdColor(r.value, panel.thresholds), '#3274d9') }} />
              </div>
              <div class="bar-value">{formatValue(r.value, unit, dec)}</div>
            </div>
          );
        })}
      </div>
    );
  }
  // table
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.metric)))].sort((a, b) => (a === '__name__' ? -1 : b === '__name__' ? 1 : a.localeCompare(b)));
  return (
    <div class="table-wrap panel-table">
      <table class="table">
        <thead>
          <tr>
            {keys.map((k) => (
              <th>{k === '__name__' ? 'metric' : k}</th>
            ))}
            <th class="num">Value</th>
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, 500).map((r) => (
            <tr>
              {keys.map((k) => (
                <td>{r.metric[k] ?? ''}</td>
              ))}
              <td class="num" style={{ color: cssColor(thresholdColor(r.value, panel.thresholds), 'inherit') }}>
                {formatValue(r.value, unit, dec)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
