// Time ranges: relative ("now-1h" .. "now") or absolute (RFC3339 or unix ms/seconds).
import { formatDuration, parseDuration } from './duration';

export interface TimeRange {
  from: string;
  to: string;
}

export interface ResolvedRange {
  start: number; // ms
  end: number; // ms
}

export const RELATIVE_RANGES: readonly { label: string; from: string }[] = [
  ['5m', 'Last 5 minutes'],
  ['15m', 'Last 15 minutes'],
  ['30m', 'Last 30 minutes'],
  ['1h', 'Last 1 hour'],
  ['3h', 'Last 3 hours'],
  ['6h', 'Last 6 hours'],
  ['12h', 'Last 12 hours'],
  ['1d', 'Last 24 hours'],
  ['2d', 'Last 2 days'],
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
  ['90d', 'Last 90 days'],
  ['1y', 'Last 1 year'],
].map(([d, label]) => ({ label, from: `now-${d}` }));

/**
 * Parses one end of a time range into unix milliseconds: "now", "now-15m", "now+1h",
 * RFC3339 ("2024-01-02T03:04:05Z"), "YYYY-MM-DD HH:MM[:SS]" (local time), or a number
 * (seconds when below 1e11, milliseconds otherwise). Null if it cannot be read.
 */
export function parseTime(text: string, now: number): number | null {
  const s = text.trim();
  if (s === 'now') return now;
  const rel = /^now\s*([+-])\s*(\S+)$/.exec(s);
  if (rel) {
    const d = parseDuration(rel[2]);
    if (d === null) return null;
    return rel[1] === '-' ? now - d : now + d;
  }
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return n < 1e11 ? Math.round(n * 1000) : Math.round(n);
  }
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(s)) {
    const t = Date.parse(s.includes('T') || !s.includes(' ') ? s : s.replace(' ', 'T'));
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

/** Resolves a range at `now`; an error names the end that could not be read. */
export function resolveRange(r: TimeRange, now: number): ResolvedRange | { error: string } {
  const start = parseTime(r.from, now);
  if (start === null) return { error: `cannot parse start time "${r.from}"` };
  const end = parseTime(r.to, now);
  if (end === null) return { error: `cannot parse end time "${r.to}"` };
  if (end <= start) return { error: 'the end of the time range must be after its start' };
  return { start, end };
}

/** A short label for a range: "Last 1 hour" for the presets, otherwise "from to to". */
export function describeRange(r: TimeRange): string {
  if (r.to === 'now') {
    const preset = RELATIVE_RANGES.find((p) => p.from === r.from);
    if (preset) return preset.label;
    const m = /^now-(\S+)$/.exec(r.from);
    if (m) {
      const d = parseDuration(m[1]);
      if (d !== null) return `Last ${formatDuration(d)}`;
    }
  }
  return `${formatTimeText(r.from)} to ${formatTimeText(r.to)}`;
}

function formatTimeText(s: string): string {
  if (/^\d+$/.test(s)) return formatLocal(Number(s) < 1e11 ? Number(s) * 1000 : Number(s));
  return s;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** "YYYY-MM-DD HH:MM:SS" in local time (what the absolute range inputs show and accept). */
export function formatLocal(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}
