// Heatmap of histogram buckets over time, drawn on a canvas: one column per step, one row
// per bucket (upper bound "le"), darker where more observations fell.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { HeatmapData } from '../lib/series';
import { formatValue } from '../lib/units';

export function Heatmap({ data, height = 240, unit }: { data: HeatmapData; height?: number; unit?: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const wrap = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  const [hover, setHover] = useState<string>('');
  const labelW = 56;
  const axisH = 18;

  useEffect(() => {
    const el = wrap.current!;
    setWidth(el.clientWidth);
    const ro = new ResizeObserver(() => setWidth(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const c = canvas.current;
    if (!c || width === 0) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = width * dpr;
    c.height = height * dpr;
    c.style.width = `${width}px`;
    c.style.height = `${height}px`;
    const g = c.getContext('2d')!;
    g.scale(dpr, dpr);
    g.clearRect(0, 0, width, height);
    const { buckets, xs, counts } = data;
    const plotW = width - labelW;
    const plotH = height - axisH;
    let max = 0;
    for (const row of counts) for (const v of row) if (v !== null && v > max) max = v;
    const cw = plotW / Math.max(1, xs.length);
    const ch = plotH / Math.max(1, buckets.length);
    for (let b = 0; b < buckets.length; b++) {
      const y = plotH - (b + 1) * ch;
      for (let i = 0; i < xs.length; i++) {
        const v = counts[b][i];
        if (v === null || v <= 0 || max === 0) continue;
        const t = Math.sqrt(v / max); // sqrt keeps small buckets visible
        g.fillStyle = `rgba(31, 100, 180, ${0.08 + 0.92 * t})`;
        g.fillRect(labelW + i * cw, y, Math.ceil(cw), Math.ceil(ch));
      }
    }
    g.fillStyle = getComputedStyle(document.documentElement).getPropertyValue('--axis').trim() || '#555';
    g.font = '11px system-ui, sans-serif';
    g.textBaseline = 'middle';
    const every = Math.max(1, Math.ceil(buckets.length / Math.max(1, Math.floor(plotH / 14))));
    for (let b = 0; b < buckets.length; b += every) {
      const le = buckets[b];
      const txt = le === '+Inf' ? '+Inf' : formatValue(Number(le), unit);
      g.fillText(txt, 2, plotH - (b + 0.5) * ch);
    }
    g.textBaseline = 'top';
    const ticks = Math.max(2, Math.floor(plotW / 110));
    for (let k = 0; k < ticks; k++) {
      const i = Math.floor((k * (xs.length - 1)) / Math.max(1, ticks - 1));
      const d = new Date(xs[i] * 1000);
      const txt = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
      const x = Math.min(width - 34, labelW + i * cw);
      g.fillText(txt, x, plotH + 4);
    }
  }, [data, width, height]);

  const onMove = (e: MouseEvent) => {
    const c = canvas.current!;
    const r = c.getBoundingClientRect();
    const x = e.clientX - r.left - labelW;
    const y = e.clientY - r.top;
    const plotH = height - axisH;
    if (x < 0 || y > plotH) return setHover('');
    const i = Math.floor((x / (width - labelW)) * data.xs.length);
    const b = Math.floor(((plotH - y) / plotH) * data.buckets.length);
    if (i < 0 || i >= data.xs.length || b < 0 || b >= data.buckets.length) return setHover('');
    const lo = b > 0 ? data.buckets[b - 1] : '0';
    const v = data.counts[b][i];
    setHover(`${new Date(data.xs[i] * 1000).toLocaleTimeString()}  (${lo}, ${data.buckets[b]}]: ${v === null ? '–' : formatValue(v)}`);
  };

  return (
    <div class="heatmap" ref={wrap}>
      <canvas ref={canvas} onMouseMove={onMove} onMouseLeave={() => setHover('')} />
      <div class="heatmap-hover muted">{hover || '\u00a0'}</div>
    </div>
  );
}
