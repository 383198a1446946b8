// Durations and steps. Durations are Prometheus-style strings ("1h30m", "15s", "500ms",
// "2d", "1w", "1y"); everything inside the UI works in milliseconds.

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

/** Parses a Prometheus duration ("5m", "1h30m", "1.5h" is refused); null if malformed. */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (s === '') return null;
  const re = /(\d+)(ms|s|m|h|d|w|y)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return null;
    total += Number(m[1]) * UNITS[m[2]];
    pos = re.lastIndex;
  }
  return total;
}

/** Formats milliseconds as the shortest Prometheus duration ("1h30m", "15s", "250ms"). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const unit of ['y', 'w', 'd', 'h', 'm', 's', 'ms']) {
    const size = UNITS[unit];
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}

/** Steps a graph may use, smallest first. */
export const NICE_STEPS_MS: readonly number[] = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
  2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400,
].map((s) => s * 1000);

/** Prometheus refuses range queries with more than 11,000 points per series. */
export const MAX_POINTS = 11_000;

/**
 * Chooses the step of a range query so that there is about one point per pixel of the
 * graph: range/width rounded up to a nice duration, never below 1s nor below what keeps
 * the query under MAX_POINTS points per series.
 */
export function chooseStep(rangeMs: number, widthPx: number): number {
  const px = Math.max(1, Math.floor(widthPx));
  const raw = Math.max(rangeMs / px, rangeMs / MAX_POINTS, 1000);
  for (const s of NICE_STEPS_MS) if (s >= raw) return s;
  // Past the table: whole days.
  return Math.ceil(raw / 86_400_000) * 86_400_000;
}
