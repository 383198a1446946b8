// Time range, step and refresh controls shared by Explore and dashboards.
import { useEffect, useRef, useState } from 'preact/hooks';
import { parseDuration } from '../lib/duration';
import { RELATIVE_RANGES, formatLocal, parseTime, resolveRange, type TimeRange } from '../lib/time';

export function TimeRangePicker({ value, onChange }: { value: TimeRange; onChange: (r: TimeRange) => void }) {
  const preset = value.to === 'now' && RELATIVE_RANGES.some((p) => p.from === value.from) ? value.from : 'custom';
  const [custom, setCustom] = useState(preset === 'custom');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [err, setErr] = useState('');

  useEffect(() => {
    setCustom(preset === 'custom');
    const show = (s: string) => {
      if (s.startsWith('now')) return s;
      const t = parseTime(s, Date.now());
      return t === null ? s : formatLocal(t);
    };
    setFrom(show(value.from));
    setTo(show(value.to));
    setErr('');
  }, [value.from, value.to]);

  const apply = (e?: Event) => {
    e?.preventDefault();
    const now = Date.now();
    const r = resolveRange({ from, to }, now);
    if ('error' in r) return setErr(r.error);
    // Absolute inputs are kept as unix ms so the range means the same after a reload.
    const norm = (s: string) => (s.trim().startsWith('now') ? s.trim() : String(parseTime(s, now)));
    setErr('');
    onChange({ from: norm(from), to: norm(to) });
  };

  const shift = (dir: number) => {
    const r = resolveRange(value, Date.now());
    if ('error' in r) return;
    const span = r.end - r.start;
    const d = (dir * span) / 2;
    onChange({ from: String(Math.round(r.start + d)), to: String(Math.round(r.end + d)) });
  };

  const zoomOut = () => {
    const r = resolveRange(value, Date.now());
    if ('error' in r) return;
    const span = r.end - r.start;
    if (value.to === 'now') {
      const next = RELATIVE_RANGES.find((p) => {
        const d = parseDuration(p.from.slice(4));
        return d !== null && d >= span * 2;
      });
      if (next) return onChange({ from: next.from, to: 'now' });
    }
    onChange({ from: String(Math.round(r.start - span / 2)), to: String(Math.round(Math.min(Date.now(), r.end + span / 2))) });
  };

  return (
    <div class="timerange">
      <div class="ctl-group">
        <button type="button" class="btn btn-icon" title="Earlier" onClick={() => shift(-1)}>
          ‹
        </button>
        <select
          aria-label="Time range"
          value={custom ? 'custom' : preset}
          onChange={(e) => {
            const v = (e.target as HTMLSelectElement).value;
            if (v === 'custom') setCustom(true);
            else onChange({ from: v, to: 'now' });
          }}
        >
          {RELATIVE_RANGES.map((p) => (
            <option value={p.from}>{p.label}</option>
          ))}
          <option value="custom">Absolute / custom…</option>
        </select>
        <button type="button" class="btn btn-icon" title="Later" onClick={() => shift(1)}>
          ›
        </button>
        <button type="button" class="btn btn-icon" title="Zoom out" onClick={zoomOut}>
          ⤢
        </button>
      </div>
      {custom && (
        <form class="ctl-group custom-range" onSubmit={apply}>
          <input aria-label="From" title="now-1h, 2024-05-01 12:00, RFC3339 or unix time" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} size={19} />
          <span class="muted">to</span>
          <input aria-label="To" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} size={19} />
          <button class="btn" type="submit">
            Apply
          </button>
        </form>
      )}
      {err && <span class="inline-error">{err}</span>}
    </div>
  );
}

export const REFRESH_CHOICES = ['', '5s', '10s', '30s', '1m', '5m', '15m'];

export function RefreshPicker({ value, onChange, onRefresh, busy }: { value: string; onChange: (v: string) => void; onRefresh: () => void; busy?: boolean }) {
  return (
    <div class="ctl-group">
      <button type="button" class="btn" onClick={onRefresh} title="Run again now" disabled={busy}>
        ↻ Refresh
      </button>
      <select aria-label="Auto-refresh" value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)} title="Auto-refresh">
        {REFRESH_CHOICES.map((r) => (
          <option value={r}>{r === '' ? 'Auto-refresh off' : `Every ${r}`}</option>
        ))}
      </select>
    </div>
  );
}

/** Calls fn every `interval` (a duration string; "" = never) while the page is visible. */
export function useInterval(interval: string, fn: () => void) {
  const cb = useRef(fn);
  cb.current = fn;
  useEffect(() => {
    const ms = interval ? parseDuration(interval) : null;
    if (!ms) return;
    const id = setInterval(() => {
      if (!document.hidden) cb.current();
    }, ms);
    return () => clearInterval(id);
  }, [interval]);
}
