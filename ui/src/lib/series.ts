// Turning Prometheus query results into what the graph, table and legend need.

export type Labels = Record<string, string>;

export interface MatrixSeries {
  metric: Labels;
  values: [number, string][];
}

export interface VectorSample {
  metric: Labels;
  value: [number, string];
}

/** `name{a="1", b="2"}` as Prometheus prints a series. */
export function seriesName(metric: Labels): string {
  const name = metric.__name__ ?? '';
  const labels = Object.keys(metric)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${k}=${JSON.stringify(metric[k])}`);
  if (labels.length === 0) return name || '{}';
  return `${name}{${labels.join(', ')}}`;
}

/** Applies a legend template: "{{instance}} {{ job }}"; empty template gives seriesName. */
export function formatLegend(template: string | undefined, metric: Labels): string {
  if (!template) return seriesName(metric);
  return template.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_, k) => metric[k] ?? '');
}

/** Parses a sample value as Prometheus encodes it ("1.5", "NaN", "+Inf"). */
export function parseSampleValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

export interface Aligned {
  xs: number[]; // seconds
  ys: (number | null)[][]; // one row per series, null where the series has no point
}

/**
 * Aligns matrix series on the query's step grid (start + k*step, seconds), so every series
 * has one slot per timestamp and gaps stay gaps (null). Staleness and missing points are
 * nulls; NaN values are nulls too since they cannot be drawn.
 */
export function alignMatrix(series: MatrixSeries[], startS: number, endS: number, stepS: number): Aligned {
  const n = Math.max(1, Math.floor((endS - startS) / stepS + 1e-9) + 1);
  const xs = new Array<number>(n);
  for (let i = 0; i < n; i++) xs[i] = startS + i * stepS;
  const ys = series.map((s) => {
    const row = new Array<number | null>(n);
    for (let i = 0; i < n; i++) row[i] = null;
    const values = s.values;
    for (let k = 0; k < values.length; k++) {
      const p = values[k];
      const i = Math.round((p[0] - startS) / stepS);
      if (i < 0 || i >= n) continue;
      // "+Inf", "-Inf" and "NaN" all read as NaN here: none can be drawn.
      const x = +p[1];
      row[i] = x - x === 0 ? x : null;
    }
    return row;
  });
  return { xs, ys };
}

/**
 * Stacks rows: each row becomes the running sum of itself and the visible rows before it
 * (a null counts as 0 while some row at that slot has a value, and stays null otherwise).
 */
export function stackRows(ys: (number | null)[][], visible: boolean[]): (number | null)[][] {
  const out: (number | null)[][] = [];
  const n = ys[0]?.length ?? 0;
  const acc = new Array<number>(n).fill(0);
  ys.forEach((row, r) => {
    if (!visible[r]) {
      out.push(row);
      return;
    }
    const o = new Array<number | null>(n);
    for (let i = 0; i < n; i++) {
      const v = row[i];
      if (v === null) {
        o[i] = null;
        continue;
      }
      acc[i] += v;
      o[i] = acc[i];
    }
    out.push(o);
  });
  return out;
}

export interface HeatmapData {
  buckets: string[]; // upper bounds ("0.1", "+Inf"), ascending
  xs: number[];
  counts: (number | null)[][]; // [bucket][slot], per-bucket (not cumulative)
}

/**
 * Turns cumulative histogram bucket series (one per `le`, e.g. sum by (le)(rate(x_bucket[5m])))
 * into per-bucket counts for a heatmap. Series with the same `le` are added up.
 */
export function heatmapFromBuckets(series: MatrixSeries[], startS: number, endS: number, stepS: number): HeatmapData | { error: string } {
  const byLe = new Map<string, MatrixSeries[]>();
  for (const s of series) {
    const le = s.metric.le;
    if (le === undefined) return { error: 'a heatmap needs histogram bucket series with an "le" label, e.g. sum by (le) (rate(x_bucket[5m]))' };
    if (!byLe.has(le)) byLe.set(le, []);
    byLe.get(le)!.push(s);
  }
  const buckets = [...byLe.keys()].sort((a, b) => parseSampleValue(a) - parseSampleValue(b));
  const aligned = buckets.map((le) => {
    const a = alignMatrix(byLe.get(le)!, startS, endS, stepS);
    const sum = new Array<number | null>(a.xs.length).fill(null);
    for (const row of a.ys) row.forEach((v, i) => { if (v !== null) sum[i] = (sum[i] ?? 0) + v; });
    return { xs: a.xs, row: sum };
  });
  const xs = aligned[0]?.xs ?? alignMatrix([], startS, endS, stepS).xs;
  const counts = aligned.map((a, b) =>
    a.row.map((v, i) => {
      if (v === null) return null;
      const below = b > 0 ? aligned[b - 1].row[i] ?? 0 : 0;
      return Math.max(0, v - below);
    }),
  );
  return { buckets, xs, counts };
}

/** The last non-null value of a row, or null. */
export function lastValue(row: (number | null)[]): number | null {
  for (let i = row.length - 1; i >= 0; i--) if (row[i] !== null) return row[i];
  return null;
}
