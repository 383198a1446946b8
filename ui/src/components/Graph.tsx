// Time series graph on uPlot: legend with click-to-toggle (Ctrl/Cmd-click isolates),
// tooltip listing the values under the cursor, drag to zoom, line or stacked mode.
// The plot is created once per set of series; refreshes with the same series only call
// setData, so auto-refresh of 50 series x 10,000 points stays cheap.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { stackRows } from '../lib/series';
import { formatValue } from '../lib/units';

export const PALETTE = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f',
  '#3366cc', '#dc3912', '#109618', '#990099', '#0099c6', '#dd4477', '#66aa00', '#b82e2e', '#316395', '#994499',
];

export function colorFor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

function withAlpha(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

export interface GraphSeries {
  name: string;
  values: (number | null)[];
}

/** Width of an element, following resizes. */
export function useWidth(ref: { current: HTMLElement | null }): number {
  const [w, setW] = useState(0);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    setW(el.clientWidth);
    const ro = new ResizeObserver(() => setW(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return w;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export function TimeSeriesGraph(props: {
  xs: number[]; // seconds
  series: GraphSeries[];
  stacked?: boolean;
  unit?: string;
  decimals?: number | null;
  height?: number;
  legend?: boolean;
  onZoom?: (startMs: number, endMs: number) => void;
}) {
  const { xs, series, stacked = false, unit, decimals, height = 300, legend = true } = props;
  const wrap = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const plotKey = useRef('');
  const raw = useRef<GraphSeries[]>(series);
  const cb = useRef(props);
  cb.current = props;
  const [hidden, setHidden] = useState<Set<string>>(new Set());

  raw.current = series;
  const visible = series.map((s) => !hidden.has(s.name));

  useEffect(() => {
    const el = wrap.current!;
    const ys = series.map((s) => s.values);
    const data = [xs, ...(stacked ? stackRows(ys, visible) : ys)] as uPlot.AlignedData;
    // Hidden series change the stacked sums' bands, so in stacked mode they are part of the key.
    const key = `${stacked}|${unit}|${decimals}|${height}|${series.map((s) => s.name).join('\u0000')}|${stacked ? visible.join() : ''}`;
    if (plot.current && plotKey.current === key) {
      plot.current.setData(data);
      return;
    }
    plot.current?.destroy();
    plotKey.current = key;

    const fmt = (v: number) => formatValue(v, unit, decimals);
    const css = getComputedStyle(document.documentElement);
    const axis = css.getPropertyValue('--axis').trim() || '#555';
    const grid = css.getPropertyValue('--grid').trim() || '#eceef1';
    const tooltip = document.createElement('div');
    tooltip.className = 'u-tooltip';
    tooltip.style.display = 'none';

    const bands: uPlot.Band[] = [];
    if (stacked) {
      let prev = -1;
      series.forEach((_, i) => {
        if (!visible[i]) return;
        if (prev >= 0) bands.push({ series: [i + 1, prev + 1], fill: withAlpha(colorFor(i), 0.3) });
        prev = i;
      });
    }
    const firstVisible = visible.indexOf(true);

    const opts: uPlot.Options = {
      width: Math.max(100, el.clientWidth),
      height,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      // Stacked areas start at zero; lines keep uPlot's automatic range.
      scales: stacked ? { x: { time: true }, y: { range: (_u, min, max) => uPlot.rangeNum(Math.min(0, min), max, 0.1, true) } } : { x: { time: true } },
      bands,
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.name,
          stroke: colorFor(i),
          width: 1.25,
          show: visible[i],
          spanGaps: false,
          fill: stacked && i === firstVisible ? withAlpha(colorFor(i), 0.3) : undefined,
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : fmt(v)),
        })),
      ],
      axes: [
        // Time labels ("10:30am") need ~60px; the default spacing crowds them on narrow graphs.
        { stroke: axis, grid: { stroke: grid }, ticks: { stroke: grid }, space: 70 },
        {
          stroke: axis,
          grid: { stroke: grid },
          ticks: { stroke: grid },
          values: (_u, splits) => splits.map(fmt),
          size: (_u, values) => {
            if (!values) return 50;
            const longest = values.reduce((m, v) => Math.max(m, String(v).length), 0);
            return Math.max(40, longest * 7 + 16);
          },
        },
      ],
      hooks: {
        init: [(u) => u.over.appendChild(tooltip)],
        setSelect: [
          (u) => {
            const w = u.select.width;
            if (w > 5 && cb.current.onZoom) {
              const a = u.posToVal(u.select.left, 'x');
              const b = u.posToVal(u.select.left + w, 'x');
              cb.current.onZoom(Math.round(a * 1000), Math.round(b * 1000));
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
        setCursor: [
          (u) => {
            const { left, top, idx } = u.cursor;
            if (idx === null || idx === undefined || left === undefined || left < 0) {
              tooltip.style.display = 'none';
              return;
            }
            const rows: { name: string; v: number; c: string }[] = [];
            raw.current.forEach((s, i) => {
              const v = s.values[idx];
              if (v !== null && v !== undefined && u.series[i + 1].show) rows.push({ name: s.name, v, c: colorFor(i) });
            });
            if (rows.length === 0) {
              tooltip.style.display = 'none';
              return;
            }
            rows.sort((a, b) => b.v - a.v);
            const shown = rows.slice(0, 10);
            const t = new Date(u.data[0][idx] * 1000).toLocaleString();
            tooltip.innerHTML =
              `<div class="u-tt-time">${escapeHtml(t)}</div>` +
              shown
                .map(
                  (r) =>
                    `<div class="u-tt-row"><i style="background:${r.c}"></i><span class="u-tt-name">${escapeHtml(r.name)}</span><b>${escapeHtml(fmt(r.v))}</b></div>`,
                )
                .join('') +
              (rows.length > shown.length ? `<div class="u-tt-more">+${rows.length - shown.length} more</div>` : '');
            tooltip.style.display = 'block';
            const ow = u.over.clientWidth;
            const tw = tooltip.offsetWidth;
            const x = left + 14 + tw > ow ? Math.max(0, left - tw - 14) : left + 14;
            tooltip.style.left = `${x}px`;
            tooltip.style.top = `${Math.max(0, (top ?? 0) - 10)}px`;
          },
        ],
      },
    };
    plot.current = new uPlot(opts, data, el);
    // Hidden series matter to the data only when stacked; otherwise toggle() shows and hides
    // them in place without touching the data.
  }, [xs, series, stacked, unit, decimals, height, stacked ? hidden : null]);

  useEffect(() => {
    const el = wrap.current!;
    const ro = new ResizeObserver(() => {
      if (plot.current && el.clientWidth > 0) plot.current.setSize({ width: el.clientWidth, height: cb.current.height ?? 300 });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  const toggle = (name: string, isolate: boolean) => {
    const next = new Set(hidden);
    if (isolate) {
      const onlyThis = series.every((s) => s.name === name || hidden.has(s.name)) && !hidden.has(name);
      next.clear();
      if (!onlyThis) series.forEach((s) => s.name !== name && next.add(s.name));
    } else if (next.has(name)) next.delete(name);
    else next.add(name);
    if (!stacked && plot.current) {
      series.forEach((s, i) => {
        const show = !next.has(s.name);
        if (plot.current!.series[i + 1].show !== show) plot.current!.setSeries(i + 1, { show });
      });
    }
    setHidden(next);
  };

  return (
    <div class="graph">
      <div class="graph-plot" ref={wrap} data-series={series.length} />
      {legend && series.length > 0 && (
        <ul class="legend" aria-label="Legend (click to toggle, Ctrl+click to show only one)">
          {series.map((s, i) => (
            <li
              class={hidden.has(s.name) ? 'off' : ''}
              title={`${s.name}\nClick to hide/show; Ctrl+click to show only this series`}
              onClick={(e) => toggle(s.name, e.ctrlKey || e.metaKey)}
            >
              <i style={{ background: colorFor(i) }} />
              {s.name}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
