// Vigil's dashboard model (docs/api/dashboards.md). The server stores it as given; only
// uid, title, panels and version mean something to it.

export type PanelType = 'timeseries' | 'stat' | 'table' | 'heatmap' | 'bargauge';
export const PANEL_TYPES: readonly PanelType[] = ['timeseries', 'stat', 'table', 'heatmap', 'bargauge'];

export interface Threshold {
  value: number | null; // null: the base colour, below every other step
  color: string;
}

export interface Target {
  expr: string;
  legendFormat?: string;
}

export interface GridPos {
  x: number;
  y: number;
  w: number; // of 24 columns
  h: number; // rows of 30px
}

export interface Panel {
  id: number;
  type: PanelType;
  title: string;
  gridPos: GridPos;
  targets: Target[];
  unit?: string;
  stacked?: boolean;
  decimals?: number | null;
  thresholds?: Threshold[];
}

export interface Variable {
  name: string;
  label: string; // the label whose values the variable offers
  match?: string; // series selector restricting those values ("up{job=\"node\"}")
  multi?: boolean;
  includeAll?: boolean;
  current?: string[]; // selected values; empty with includeAll means All
  values?: string[]; // fixed values (imported Grafana "custom" variables); no label lookup
}

export interface Dashboard {
  uid?: string;
  title: string;
  tags?: string[];
  version?: number;
  time?: { from: string; to: string };
  refresh?: string;
  variables?: Variable[];
  panels: Panel[];
}

export interface DashboardSummary {
  uid: string;
  title: string;
  tags: string[];
  version: number;
  updated: string;
}

export const DEFAULT_THRESHOLDS: Threshold[] = [
  { value: null, color: 'green' },
  { value: 80, color: 'red' },
];

/** The colour a value takes under a list of thresholds (sorted ascending, base first). */
export function thresholdColor(value: number, thresholds: Threshold[] | undefined): string | null {
  if (!thresholds || thresholds.length === 0) return null;
  let color: string | null = null;
  for (const t of thresholds) {
    if (t.value === null || value >= t.value) color = t.color;
  }
  return color;
}

/** Next free panel id, and a position below every existing panel. */
export function nextPanelPlacement(panels: Panel[], w = 12, h = 8): { id: number; gridPos: GridPos } {
  const id = panels.reduce((m, p) => Math.max(m, p.id || 0), 0) + 1;
  const bottom = panels.reduce((m, p) => Math.max(m, p.gridPos.y + p.gridPos.h), 0);
  // Fill the right half of the last row when it has room.
  const last = panels.filter((p) => p.gridPos.y + p.gridPos.h === bottom);
  const rightmost = last.reduce((m, p) => Math.max(m, p.gridPos.x + p.gridPos.w), 0);
  if (last.length > 0 && rightmost + w <= 24) {
    const y = Math.min(...last.map((p) => p.gridPos.y));
    return { id, gridPos: { x: rightmost, y, w, h } };
  }
  return { id, gridPos: { x: 0, y: bottom, w, h } };
}

/**
 * Checks a dashboard read from JSON (import, or the JSON editor): returns the problems found,
 * each naming where; an empty list means the model can be saved.
 */
export function validateDashboard(d: unknown): string[] {
  const errs: string[] = [];
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return ['the dashboard must be a JSON object'];
  const o = d as Record<string, unknown>;
  if (typeof o.title !== 'string' || o.title.trim() === '') errs.push('"title" must be a non-empty string');
  if (!Array.isArray(o.panels)) {
    errs.push('"panels" must be an array');
    return errs;
  }
  o.panels.forEach((p: any, i: number) => {
    const where = `panels[${i}]`;
    if (typeof p !== 'object' || p === null) return errs.push(`${where} must be an object`);
    if (!PANEL_TYPES.includes(p.type)) errs.push(`${where}.type must be one of ${PANEL_TYPES.join(', ')}`);
    if (!Array.isArray(p.targets)) errs.push(`${where}.targets must be an array`);
    const g = p.gridPos;
    if (!g || ![g.x, g.y, g.w, g.h].every((n) => typeof n === 'number')) {
      errs.push(`${where}.gridPos must have numeric x, y, w and h`);
    }
  });
  if (o.variables !== undefined && !Array.isArray(o.variables)) errs.push('"variables" must be an array');
  if (o.uid !== undefined && o.uid !== '' && (typeof o.uid !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(o.uid))) {
    errs.push('"uid" must match [A-Za-z0-9_-]{1,64}');
  }
  return errs;
}
