// Dialog that edits one panel with a live preview.
import { useRef, useState } from 'preact/hooks';
import { DEFAULT_THRESHOLDS, PANEL_TYPES, type Panel, type PanelType, type Threshold } from '../lib/model';
import type { TimeRange } from '../lib/time';
import { UNITS } from '../lib/units';
import type { VariableValue } from '../lib/variables';
import { flushEditors, PromQLEditor } from './Editor';
import { PanelView } from './Panel';

const TYPE_NAMES: Record<PanelType, string> = {
  timeseries: 'Time series',
  stat: 'Stat (single value)',
  table: 'Table',
  heatmap: 'Heatmap (histogram buckets)',
  bargauge: 'Bar gauge',
};

export function PanelEditor(props: {
  panel: Panel;
  range: TimeRange;
  vars: Record<string, VariableValue>;
  onApply: (p: Panel) => void;
  onCancel: () => void;
}) {
  const [p, setPState] = useState<Panel>(() => JSON.parse(JSON.stringify(props.panel)));
  // The newest panel, also between renders: the query editors report their text on blur or
  // right before a submit, and the submit must see it.
  const latest = useRef(p);
  const setP = (next: Panel) => {
    latest.current = next;
    setPState(next);
  };
  const [preview, setPreview] = useState<Panel>(p);
  const [tick, setTick] = useState(0);
  const set = (patch: Partial<Panel>) => setP({ ...latest.current, ...patch });
  const setTarget = (i: number, patch: Partial<Panel['targets'][0]>) =>
    set({ targets: latest.current.targets.map((t, j) => (j === i ? { ...t, ...patch } : t)) });
  const runPreview = () => {
    flushEditors();
    setPreview(latest.current);
    setTick((n) => n + 1);
  };
  const thresholds = p.thresholds ?? [];
  const setThreshold = (i: number, patch: Partial<Threshold>) => set({ thresholds: thresholds.map((t, j) => (j === i ? { ...t, ...patch } : t)) });

  return (
    <div class="modal-back" onMouseDown={(e) => e.target === e.currentTarget && props.onCancel()}>
      <div class="modal wide" role="dialog" aria-label="Edit panel">
        <div class="modal-head">
          <h2>Edit panel</h2>
          <button class="btn btn-icon" title="Close" onClick={props.onCancel}>
            ✕
          </button>
        </div>
        <div class="panel-editor">
          <div class="pe-preview card">
            <div class="panel-title">{preview.title}</div>
            <div style={{ height: '220px' }}>
              <PanelView panel={preview} range={props.range} vars={props.vars} tick={tick} height={220} />
            </div>
          </div>
          <div class="pe-form">
            <div class="form-row">
              <label>
                Title
                <input value={p.title} onInput={(e) => set({ title: (e.target as HTMLInputElement).value })} />
              </label>
              <label>
                Type
                <select value={p.type} onChange={(e) => {
                  const type = (e.target as HTMLSelectElement).value as PanelType;
                  const patch: Partial<Panel> = { type };
                  if ((type === 'stat' || type === 'bargauge') && !p.thresholds) patch.thresholds = DEFAULT_THRESHOLDS.map((t) => ({ ...t }));
                  const next = { ...latest.current, ...patch };
                  setP(next);
                  setPreview(next);
                }}>
                  {PANEL_TYPES.map((t) => (
                    <option value={t}>{TYPE_NAMES[t]}</option>
                  ))}
                </select>
              </label>
            </div>
            <fieldset>
              <legend>Queries</legend>
              {p.targets.map((t, i) => (
                <div class="target">
                  <PromQLEditor value={t.expr} onChange={(v) => setTarget(i, { expr: v })} onSubmit={runPreview} placeholder="PromQL expression (Enter to preview); $var and $__rate_interval work" />
                  <div class="form-row">
                    <label class="grow">
                      Legend
                      <input placeholder="{{instance}}" value={t.legendFormat ?? ''} onInput={(e) => setTarget(i, { legendFormat: (e.target as HTMLInputElement).value || undefined })} />
                    </label>
                    <button class="btn" type="button" onClick={() => set({ targets: p.targets.filter((_, j) => j !== i) })}>
                      Remove query
                    </button>
                  </div>
                </div>
              ))}
              <div class="form-row">
                <button class="btn" type="button" onClick={() => set({ targets: [...p.targets, { expr: '' }] })}>
                  + Add query
                </button>
                <button class="btn" type="button" onClick={runPreview}>
                  Preview
                </button>
              </div>
            </fieldset>
            <fieldset>
              <legend>Display</legend>
              <div class="form-row">
                <label>
                  Unit
                  <select value={p.unit ?? 'short'} onChange={(e) => set({ unit: (e.target as HTMLSelectElement).value })}>
                    {[...new Set([...(p.unit ? [p.unit] : []), ...UNITS])].map((u) => (
                      <option value={u}>{u}</option>
                    ))}
                  </select>
                </label>
                <label>
                  Decimals
                  <input type="number" min={0} max={10} placeholder="auto" size={5} value={p.decimals ?? ''} onInput={(e) => {
                    const v = (e.target as HTMLInputElement).value;
                    set({ decimals: v === '' ? null : Math.max(0, Math.min(10, Number(v))) });
                  }} />
                </label>
                {p.type === 'timeseries' && (
                  <label class="check">
                    <input type="checkbox" checked={!!p.stacked} onChange={(e) => set({ stacked: (e.target as HTMLInputElement).checked })} /> Stacked
                  </label>
                )}
              </div>
              <div class="form-row">
                <label>
                  Width (of 24)
                  <input type="number" min={1} max={24} size={4} value={p.gridPos.w} onInput={(e) => set({ gridPos: { ...p.gridPos, w: clamp((e.target as HTMLInputElement).value, 1, 24), x: Math.min(p.gridPos.x, 24 - clamp((e.target as HTMLInputElement).value, 1, 24)) } })} />
                </label>
                <label>
                  Height (rows)
                  <input type="number" min={2} max={40} size={4} value={p.gridPos.h} onInput={(e) => set({ gridPos: { ...p.gridPos, h: clamp((e.target as HTMLInputElement).value, 2, 40) } })} />
                </label>
              </div>
            </fieldset>
            {(p.type === 'stat' || p.type === 'bargauge' || p.type === 'table') && (
              <fieldset>
                <legend>Thresholds</legend>
                {thresholds.map((t, i) => (
                  <div class="form-row threshold">
                    <input type="color" value={toHex(t.color)} onInput={(e) => setThreshold(i, { color: (e.target as HTMLInputElement).value })} aria-label="Colour" />
                    {t.value === null ? (
                      <span class="muted">Base</span>
                    ) : (
                      <input type="number" size={8} value={t.value} onInput={(e) => setThreshold(i, { value: Number((e.target as HTMLInputElement).value) })} aria-label="From value" />
                    )}
                    {t.value !== null && (
                      <button class="btn btn-icon" type="button" title="Remove" onClick={() => set({ thresholds: thresholds.filter((_, j) => j !== i) })}>
                        ✕
                      </button>
                    )}
                  </div>
                ))}
                <button class="btn" type="button" onClick={() => {
                  const top = thresholds.reduce((m, t) => Math.max(m, t.value ?? 0), 0);
                  const base = thresholds.length === 0 ? [{ value: null, color: '#37872d' }] : [];
                  set({ thresholds: [...base, ...thresholds, { value: top + 10, color: '#d44a3a' }].sort(byValue) });
                }}>
                  + Add threshold
                </button>
              </fieldset>
            )}
          </div>
        </div>
        <div class="modal-foot">
          <button class="btn" onClick={props.onCancel}>
            Cancel
          </button>
          <button class="btn btn-primary" onClick={() => {
              flushEditors();
              props.onApply({ ...latest.current, thresholds: latest.current.thresholds?.slice().sort(byValue) });
            }}>
            Apply
          </button>
        </div>
      </div>
    </div>
  );
}

function byValue(a: Threshold, b: Threshold) {
  return (a.value ?? -Infinity) - (b.value ?? -Infinity);
}

function clamp(s: string, lo: number, hi: number): number {
  const n = Math.round(Number(s));
  return Number.isFinite(n) ? Math.max(lo, Math.min(hi, n)) : lo;
}

const HEX: Record<string, string> = { green: '#37872d', red: '#d44a3a', orange: '#ff780a', yellow: '#e0b400', blue: '#3274d9', purple: '#a352cc' };

function toHex(c: string): string {
  if (/^#[0-9a-f]{6}$/i.test(c)) return c;
  if (/^#[0-9a-f]{3}$/i.test(c)) return '#' + [...c.slice(1)].map((x) => x + x).join('');
  return HEX[c] ?? '#888888';
}
