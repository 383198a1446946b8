// Import of Grafana dashboard JSON (schema 16+, and the older "rows" layout) into Vigil's
// model: timeseries/graph, stat/singlestat, table, heatmap, bargauge/gauge panels with their
// PromQL targets, grid positions, units, decimals, thresholds and stacking; query variables
// of the form label_values(...) and custom variables. What cannot be converted is skipped
// and reported in `warnings`.
import type { Dashboard, Panel, PanelType, Threshold, Variable } from './model';
import { ALL } from './variables';

export interface ImportResult {
  dashboard: Dashboard;
  warnings: string[];
}

const TYPE_MAP: Record<string, PanelType> = {
  timeseries: 'timeseries',
  graph: 'timeseries',
  stat: 'stat',
  singlestat: 'stat',
  table: 'table',
  'table-old': 'table',
  heatmap: 'heatmap',
  bargauge: 'bargauge',
  gauge: 'bargauge',
};

/** True if the JSON looks like a Grafana dashboard rather than Vigil's own model. */
export function looksLikeGrafana(j: any): boolean {
  if (!j || typeof j !== 'object') return false;
  if (j.dashboard && typeof j.dashboard === 'object') return true;
  if (j.templating || j.schemaVersion !== undefined || Array.isArray(j.rows)) return true;
  return Array.isArray(j.panels) && j.panels.some((p: any) => p && (p.fieldConfig || p.datasource || p.type === 'graph' || p.type === 'row'));
}

/** Parses "label_values(selector, label)" or "label_values(label)"; null otherwise. */
export function parseLabelValuesQuery(q: string): { label: string; match?: string } | null {
  const m = /^\s*label_values\s*\(\s*(.*)\)\s*$/s.exec(q);
  if (!m) return null;
  const inner = m[1].trim();
  // The label is after the last comma that is outside braces and quotes.
  let depth = 0;
  let quote = '';
  let split = -1;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '{' || c === '(' || c === '[') depth++;
    else if (c === '}' || c === ')' || c === ']') depth--;
    else if (c === ',' && depth === 0) split = i;
  }
  const label = (split < 0 ? inner : inner.slice(split + 1)).trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(label)) return null;
  if (split < 0) return { label };
  const match = inner.slice(0, split).trim();
  return match ? { label, match } : { label };
}

function toNumberOrNull(v: any): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function convertThresholds(p: any): Threshold[] | undefined {
  const steps = p.fieldConfig?.defaults?.thresholds?.steps;
  if (Array.isArray(steps) && steps.length > 0) {
    return steps.map((s: any) => ({ value: toNumberOrNull(s.value), color: String(s.color ?? 'green') }));
  }
  // singlestat: thresholds "50,80" and three colours.
  if (typeof p.thresholds === 'string' && p.thresholds.trim() !== '') {
    const values = p.thresholds.split(',').map((s: string) => toNumberOrNull(s.trim()));
    const colors: string[] = Array.isArray(p.colors) ? p.colors : ['green', 'orange', 'red'];
    const out: Threshold[] = [{ value: null, color: colors[0] ?? 'green' }];
    values.forEach((v: number | null, i: number) => {
      if (v !== null) out.push({ value: v, color: colors[i + 1] ?? 'red' });
    });
    return out;
  }
  return undefined;
}

function convertUnit(p: any): string | undefined {
  const u = p.fieldConfig?.defaults?.unit ?? p.yaxes?.[0]?.format ?? p.format;
  return typeof u === 'string' && u !== '' ? u : undefined;
}

function convertPanel(p: any, id: number, gridPos: Panel['gridPos'], warnings: string[]): Panel | null {
  const title = typeof p.title === 'string' && p.title !== '' ? p.title : `Panel ${id}`;
  const type = TYPE_MAP[p.type];
  if (!type) {
    warnings.push(`panel "${title}": type "${p.type}" is not supported, skipped`);
    return null;
  }
  const targets = [];
  for (const t of Array.isArray(p.targets) ? p.targets : []) {
    if (!t || t.hide) continue;
    if (typeof t.expr !== 'string' || t.expr.trim() === '') {
      warnings.push(`panel "${title}": a target without a PromQL "expr" was skipped`);
      continue;
    }
    const target: { expr: string; legendFormat?: string } = { expr: t.expr };
    if (typeof t.legendFormat === 'string' && t.legendFormat !== '' && t.legendFormat !== '__auto') {
      target.legendFormat = t.legendFormat;
    }
    targets.push(target);
  }
  const panel: Panel = { id, type, title, gridPos, targets };
  const unit = convertUnit(p);
  if (unit) panel.unit = unit;
  const decimals = toNumberOrNull(p.fieldConfig?.defaults?.decimals ?? p.decimals);
  if (decimals !== null) panel.decimals = decimals;
  const thresholds = convertThresholds(p);
  if (thresholds) panel.thresholds = thresholds;
  const stacking = p.fieldConfig?.defaults?.custom?.stacking?.mode;
  if ((stacking && stacking !== 'none') || p.stack === true) panel.stacked = true;
  return panel;
}

function clampGrid(g: any, fallback: Panel['gridPos']): Panel['gridPos'] {
  if (!g || typeof g !== 'object') return fallback;
  const num = (v: any, d: number) => (Number.isFinite(Number(v)) ? Math.round(Number(v)) : d);
  const w = Math.min(24, Math.max(1, num(g.w, fallback.w)));
  const x = Math.min(24 - w, Math.max(0, num(g.x, fallback.x)));
  return { x, y: Math.max(0, num(g.y, fallback.y)), w, h: Math.max(1, num(g.h, fallback.h)) };
}

function currentValues(cur: any): string[] {
  const v = cur?.value;
  const list = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  const out = list.map(String).filter((s: string) => s !== '');
  return out.includes(ALL) ? [] : out;
}

function convertVariable(t: any, warnings: string[]): Variable | null {
  const name = String(t?.name ?? '');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    warnings.push(`variable "${name}": not a valid name, skipped`);
    return null;
  }
  if (t.type === 'datasource' || t.type === 'adhoc') return null; // Vigil is the only data source
  const base = { name, multi: !!t.multi, includeAll: !!t.includeAll, current: currentValues(t.current) };
  if (t.type === 'query') {
    const q = typeof t.query === 'string' ? t.query : t.query?.query;
    const parsed = typeof q === 'string' ? parseLabelValuesQuery(q) : null;
    if (!parsed) {
      warnings.push(`variable "${name}": only label_values(...) queries are supported, skipped (query: ${JSON.stringify(q)})`);
      return null;
    }
    return { ...base, label: parsed.label, ...(parsed.match ? { match: parsed.match } : {}) };
  }
  if (t.type === 'custom') {
    const values = String(t.query ?? '')
      .split(',')
      .map((s: string) => s.trim())
      .filter((s: string) => s !== '');
    return { ...base, label: '', values };
  }
  warnings.push(`variable "${name}": type "${t.type}" is not supported, skipped`);
  return null;
}

/** Converts a Grafana dashboard (or the {"dashboard": ...} wrapper of its API) to Vigil's model. */
export function convertGrafanaDashboard(input: any): ImportResult {
  const warnings: string[] = [];
  const g = input && typeof input === 'object' && input.dashboard && typeof input.dashboard === 'object' ? input.dashboard : input;
  if (!g || typeof g !== 'object') throw new Error('a Grafana dashboard must be a JSON object');

  // Flatten rows: schema 16+ has "row" panels whose collapsed children sit in row.panels;
  // older dashboards have rows[].panels with span (of 12) and a row height.
  const flat: { p: any; gridPos: Panel['gridPos'] }[] = [];
  if (Array.isArray(g.panels)) {
    for (const p of g.panels) {
      if (!p || typeof p !== 'object') continue;
      if (p.type === 'row') {
        for (const c of Array.isArray(p.panels) ? p.panels : []) {
          flat.push({ p: c, gridPos: clampGrid(c.gridPos, { x: 0, y: 0, w: 12, h: 8 }) });
        }
        continue;
      }
      flat.push({ p, gridPos: clampGrid(p.gridPos, { x: 0, y: 0, w: 12, h: 8 }) });
    }
  } else if (Array.isArray(g.rows)) {
    let y = 0;
    for (const row of g.rows) {
      const h = Math.max(4, Math.round((parseInt(String(row?.height ?? '250'), 10) || 250) / 30));
      let x = 0;
      for (const p of Array.isArray(row?.panels) ? row.panels : []) {
        const w = Math.min(24, Math.max(1, Math.round((Number(p.span) || 12) * 2)));
        if (x + w > 24) {
          x = 0;
          y += h;
        }
        flat.push({ p, gridPos: { x, y, w, h } });
        x += w;
      }
      y += h;
    }
  }

  const panels: Panel[] = [];
  const used = new Set<number>();
  for (const { p, gridPos } of flat) {
    let id = Number.isInteger(p.id) && p.id > 0 && !used.has(p.id) ? p.id : 0;
    if (!id) {
      id = 1;
      while (used.has(id)) id++;
    }
    const panel = convertPanel(p, id, gridPos, warnings);
    if (panel) {
      used.add(id);
      panels.push(panel);
    }
  }

  const variables: Variable[] = [];
  for (const t of Array.isArray(g.templating?.list) ? g.templating.list : []) {
    const v = convertVariable(t, warnings);
    if (v) variables.push(v);
  }

  const dashboard: Dashboard = {
    title: typeof g.title === 'string' && g.title.trim() !== '' ? g.title : 'Imported dashboard',
    tags: Array.isArray(g.tags) ? g.tags.map(String) : [],
    time: {
      from: typeof g.time?.from === 'string' ? g.time.from : 'now-1h',
      to: typeof g.time?.to === 'string' ? g.time.to : 'now',
    },
    refresh: typeof g.refresh === 'string' ? g.refresh : '',
    variables,
    panels,
  };
  if (typeof g.uid === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(g.uid)) dashboard.uid = g.uid;
  return { dashboard, warnings };
}
