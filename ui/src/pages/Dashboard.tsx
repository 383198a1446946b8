// One dashboard: variables, shared time range and refresh, a 24-column grid of panels;
// edit mode adds, edits, moves, resizes and removes panels; settings edit the title, tags,
// variables and the JSON model; save (with version check), export and delete.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, dashboardsApi, errorText } from '../api';
import { ErrorBox, Link, Loading } from '../components/common';
import { PanelView } from '../components/Panel';
import { PanelEditor } from '../components/PanelEditor';
import { RefreshPicker, TimeRangePicker, useInterval } from '../components/TimeRangePicker';
import { VariablesBar } from '../components/VariablesBar';
import { nextPanelPlacement, validateDashboard, type Dashboard, type Panel, type Variable } from '../lib/model';
import type { TimeRange } from '../lib/time';
import { variableValues } from '../lib/variables';
import { navigate } from '../router';

const ROW_PX = 30;
const GAP_PX = 8;

/** Height of a panel's body: rows plus the gaps between them, less the header and padding. */
function bodyHeight(h: number): number {
  return h * ROW_PX + (h - 1) * GAP_PX - 40;
}

export function newDashboard(): Dashboard {
  return { title: 'New dashboard', tags: [], time: { from: 'now-1h', to: 'now' }, refresh: '', variables: [], panels: [] };
}

export function downloadJSON(name: string, value: unknown) {
  const blob = new Blob([JSON.stringify(value, null, 2) + '\n'], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function DashboardPage({ uid }: { uid: string | null }) {
  const [dash, setDash] = useState<Dashboard | null>(uid ? null : newDashboard());
  const [loadError, setLoadError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState('');
  const [conflict, setConflict] = useState(false);
  const [dirty, setDirty] = useState(!uid);
  const [editing, setEditing] = useState(!uid);
  const [range, setRange] = useState<TimeRange>({ from: 'now-1h', to: 'now' });
  const [refresh, setRefresh] = useState('');
  const [tick, setTick] = useState(0);
  const [editPanel, setEditPanel] = useState<Panel | null>(null);
  const [settings, setSettings] = useState(false);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    if (!uid) return;
    setDash(null);
    setLoadError(null);
    dashboardsApi
      .get(uid)
      .then((r) => {
        const d = r.data;
        d.panels = Array.isArray(d.panels) ? d.panels : [];
        const p = new URLSearchParams(location.search);
        // ?var-<name>=v (repeatable) overrides a variable's saved selection, as in Grafana links.
        d.variables = (d.variables ?? []).map((v) => (p.has(`var-${v.name}`) ? { ...v, current: p.getAll(`var-${v.name}`).filter((x) => x !== 'All') } : v));
        setDash(d);
        setRange({ from: p.get('from') ?? d.time?.from ?? 'now-1h', to: p.get('to') ?? d.time?.to ?? 'now' });
        setRefresh(d.refresh ?? '');
        setDirty(false);
        setEditing(p.get('edit') === '1');
      })
      .catch((e) => setLoadError(e instanceof ApiError && e.status === 404 ? `Dashboard "${uid}" does not exist (it may have been deleted).` : errorText(e)));
  }, [uid]);

  // The URL carries the view (time range and variable selections) so it can be shared.
  const viewKey = JSON.stringify([range, (dash?.variables ?? []).map((v) => v.current ?? [])]);
  useEffect(() => {
    if (!dash) return;
    const params: Record<string, string | undefined> = {
      from: range.from !== (dash.time?.from ?? 'now-1h') ? range.from : undefined,
      to: range.to !== (dash.time?.to ?? 'now') ? range.to : undefined,
    };
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) p.set(k, v);
    for (const v of dash.variables ?? []) {
      const cur = v.current ?? [];
      if (cur.length === 0 && v.includeAll) p.append(`var-${v.name}`, 'All');
      for (const c of cur) p.append(`var-${v.name}`, c);
    }
    const qs = p.toString();
    const url = location.pathname + (qs ? '?' + qs : '');
    if (url !== location.pathname + location.search) history.replaceState(null, '', url);
  }, [viewKey]);

  useEffect(() => {
    if (dash) document.title = `${dash.title} · Vigil`;
    return () => {
      document.title = 'Vigil';
    };
  }, [dash?.title]);

  // Leaving with unsaved changes asks first.
  useEffect(() => {
    if (!dirty) return;
    const h = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', h);
    return () => window.removeEventListener('beforeunload', h);
  }, [dirty]);

  useInterval(refresh, () => setTick((n) => n + 1));

  const vars = useMemo(() => variableValues(dash?.variables), [dash?.variables]);

  if (loadError) {
    return (
      <div class="page">
        <ErrorBox error={loadError} />
        <Link href="/ui/dashboards">← All dashboards</Link>
      </div>
    );
  }
  if (!dash) return <div class="page"><Loading what="dashboard" /></div>;

  const update = (d: Dashboard) => {
    setDash(d);
    setDirty(true);
  };
  const setPanels = (panels: Panel[]) => update({ ...dash, panels });
  const setVar = (name: string, current: string[]) => {
    // Variable selections are view state: they change the queries without dirtying the model.
    setDash({ ...dash, variables: (dash.variables ?? []).map((v) => (v.name === name ? { ...v, current } : v)) });
  };

  const save = async (overwrite = false) => {
    setSaving(true);
    setError(null);
    setNotice('');
    const body: Dashboard = { ...dash, time: range, refresh };
    try {
      if (!dash.uid) {
        const r = await dashboardsApi.create(body);
        setDash({ ...body, uid: r.data.uid, version: r.data.version });
        setDirty(false);
        navigate(`/ui/dashboards/${encodeURIComponent(r.data.uid)}`, true);
      } else {
        if (overwrite) delete body.version;
        const r = await dashboardsApi.save(dash.uid, body);
        setDash({ ...body, version: r.data.version });
        setDirty(false);
        setConflict(false);
        setNotice(`Saved (version ${r.data.version}).`);
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && dash.uid) {
        setConflict(true);
        setError(`Someone else saved this dashboard since you opened it (${e.message}). Reload to see their version, or overwrite it with yours.`);
      } else setError(`cannot save the dashboard: ${errorText(e)}`);
    } finally {
      setSaving(false);
    }
  };

  const remove = async () => {
    if (!dash.uid) return navigate('/ui/dashboards');
    if (!confirm(`Delete dashboard "${dash.title}"? This cannot be undone.`)) return;
    try {
      await dashboardsApi.remove(dash.uid);
      setDirty(false);
      navigate('/ui/dashboards');
    } catch (e) {
      setError(`cannot delete the dashboard: ${errorText(e)}`);
    }
  };

  const addPanel = () => {
    const { id, gridPos } = nextPanelPlacement(dash.panels);
    setEditPanel({ id, type: 'timeseries', title: `Panel ${id}`, gridPos, targets: [{ expr: '' }] });
  };

  const movePanel = (p: Panel, dx: number, dy: number, dw = 0, dh = 0) => {
    const w = Math.max(2, Math.min(24, p.gridPos.w + dw));
    const h = Math.max(2, Math.min(40, p.gridPos.h + dh));
    const x = Math.max(0, Math.min(24 - w, p.gridPos.x + dx));
    const y = Math.max(0, p.gridPos.y + dy);
    setPanels(dash.panels.map((q) => (q.id === p.id ? { ...q, gridPos: { x, y, w, h } } : q)));
  };

  const ordered = [...dash.panels].sort((a, b) => a.gridPos.y - b.gridPos.y || a.gridPos.x - b.gridPos.x);

  return (
    <div class="page dashboard">
      <div class="page-head">
        <h1>
          <Link href="/ui/dashboards" class="crumb">Dashboards</Link> / <span data-testid="dashboard-title">{dash.title}</span>
          {dirty && <span class="badge badge-pending" title="Unsaved changes">unsaved</span>}
        </h1>
        <div class="head-actions">
          {editing ? (
            <>
              <button class="btn" onClick={addPanel}>+ Add panel</button>
              <button class="btn" onClick={() => setSettings(true)}>Settings / JSON</button>
              <button class="btn" onClick={() => setEditing(false)}>Done editing</button>
            </>
          ) : (
            <button class="btn" onClick={() => setEditing(true)}>Edit</button>
          )}
          <button class="btn" onClick={() => downloadJSON(`${dash.uid || 'dashboard'}.json`, { ...dash, time: range, refresh })} title="Download the JSON model">
            Export
          </button>
          <button class="btn btn-primary" onClick={() => save()} disabled={saving || (!dirty && !!dash.uid)} data-testid="save-dashboard">
            {saving ? 'Saving…' : 'Save'}
          </button>
          {dash.uid && <button class="btn btn-danger" onClick={remove}>Delete</button>}
        </div>
      </div>
      <ErrorBox error={error} />
      {conflict && (
        <div class="form-row">
          <button class="btn" onClick={() => location.reload()}>Reload</button>
          <button class="btn btn-danger" onClick={() => save(true)}>Overwrite with my version</button>
        </div>
      )}
      {notice && <div class="msg msg-ok">{notice}</div>}
      <div class="toolbar dash-toolbar">
        <VariablesBar variables={dash.variables ?? []} onChange={setVar} />
        <div class="spacer" />
        <TimeRangePicker value={range} onChange={setRange} />
        <RefreshPicker value={refresh} onChange={setRefresh} onRefresh={() => setTick((n) => n + 1)} />
      </div>
      {dash.panels.length === 0 && (
        <div class="empty card">
          This dashboard has no panels yet. {editing ? <button class="btn" onClick={addPanel}>+ Add panel</button> : <button class="btn" onClick={() => setEditing(true)}>Edit</button>}
        </div>
      )}
      <div class="grid">
        {ordered.map((p, i) => (
          <div
            class="panel card"
            key={p.id}
            data-testid="panel"
            style={{ gridColumn: `${p.gridPos.x + 1} / span ${p.gridPos.w}`, gridRow: `${p.gridPos.y + 1} / span ${p.gridPos.h}`, order: i, '--h': p.gridPos.h }}
          >
            <div class="panel-head">
              <span class="panel-title" title={p.title}>{p.title}</span>
              {editing ? (
                <span class="panel-tools">
                  <button title="Edit" onClick={() => setEditPanel(p)}>✎</button>
                  <button title="Move left" onClick={() => movePanel(p, -1, 0)}>←</button>
                  <button title="Move right" onClick={() => movePanel(p, 1, 0)}>→</button>
                  <button title="Move up" onClick={() => movePanel(p, 0, -1)}>↑</button>
                  <button title="Move down" onClick={() => movePanel(p, 0, 1)}>↓</button>
                  <button title="Narrower" onClick={() => movePanel(p, 0, 0, -2)}>⇤</button>
                  <button title="Wider" onClick={() => movePanel(p, 0, 0, 2)}>⇥</button>
                  <button title="Shorter" onClick={() => movePanel(p, 0, 0, 0, -1)}>⤒</button>
                  <button title="Taller" onClick={() => movePanel(p, 0, 0, 0, 1)}>⤓</button>
                  <button title="Duplicate" onClick={() => {
                    const { id, gridPos } = nextPanelPlacement(dash.panels, p.gridPos.w, p.gridPos.h);
                    setPanels([...dash.panels, { ...JSON.parse(JSON.stringify(p)), id, gridPos }]);
                  }}>⧉</button>
                  <button title="Remove" onClick={() => confirm(`Remove panel "${p.title}"?`) && setPanels(dash.panels.filter((q) => q.id !== p.id))}>✕</button>
                </span>
              ) : (
                p.targets[0]?.expr && (
                  <a class="panel-explore" title="Open in Explore" href={`/ui/explore?${new URLSearchParams({ q: p.targets[0].expr, from: range.from, to: range.to })}`}>
                    ↗
                  </a>
                )
              )}
            </div>
            <PanelView panel={p} range={range} vars={vars} tick={tick} height={bodyHeight(p.gridPos.h)} />
          </div>
        ))}
      </div>
      {editPanel && (
        <PanelEditor
          panel={editPanel}
          range={range}
          vars={vars}
          onCancel={() => setEditPanel(null)}
          onApply={(np) => {
            const exists = dash.panels.some((q) => q.id === np.id);
            setPanels(exists ? dash.panels.map((q) => (q.id === np.id ? np : q)) : [...dash.panels, np]);
            setEditPanel(null);
          }}
        />
      )}
      {settings && (
        <DashboardSettings
          dash={{ ...dash, time: range, refresh }}
          onCancel={() => setSettings(false)}
          onApply={(d) => {
            update({ ...d, uid: dash.uid, version: dash.version });
            if (d.time) setRange(d.time);
            setRefresh(d.refresh ?? '');
            setSettings(false);
          }}
        />
      )}
    </div>
  );
}

function DashboardSettings({ dash, onApply, onCancel }: { dash: Dashboard; onApply: (d: Dashboard) => void; onCancel: () => void }) {
  const [tab, setTab] = useState<'general' | 'json'>('general');
  const [title, setTitle] = useState(dash.title);
  const [tags, setTags] = useState((dash.tags ?? []).join(', '));
  const [vars, setVars] = useState<Variable[]>(dash.variables ?? []);
  const [json, setJson] = useState(() => JSON.stringify(dash, null, 2));
  const [error, setError] = useState('');

  const setVar = (i: number, patch: Partial<Variable>) => setVars(vars.map((v, j) => (j === i ? { ...v, ...patch } : v)));

  const apply = () => {
    if (tab === 'json') {
      let d: any;
      try {
        d = JSON.parse(json);
      } catch (e) {
        return setError(`cannot parse JSON: ${(e as Error).message}`);
      }
      const errs = validateDashboard(d);
      if (errs.length) return setError(errs.join('; '));
      return onApply(d);
    }
    if (!title.trim()) return setError('the title must not be empty');
    for (const v of vars) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.name)) return setError(`variable name "${v.name}" must match [A-Za-z_][A-Za-z0-9_]*`);
      if (!v.values && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.label)) return setError(`variable "${v.name}": label "${v.label}" is not a label name`);
    }
    onApply({
      ...dash,
      title: title.trim(),
      tags: tags.split(',').map((t) => t.trim()).filter(Boolean),
      variables: vars,
    });
  };

  return (
    <div class="modal-back" onMouseDown={(e) => e.target === e.currentTarget && onCancel()}>
      <div class="modal wide" role="dialog" aria-label="Dashboard settings">
        <div class="modal-head">
          <h2>Dashboard settings</h2>
          <button class="btn btn-icon" title="Close" onClick={onCancel}>✕</button>
        </div>
        <div class="tabs">
          <button class={tab === 'general' ? 'tab active' : 'tab'} onClick={() => { setTab('general'); setError(''); }}>General and variables</button>
          <button class={tab === 'json' ? 'tab active' : 'tab'} onClick={() => {
            setJson(JSON.stringify({ ...dash, title, tags: tags.split(',').map((t) => t.trim()).filter(Boolean), variables: vars }, null, 2));
            setTab('json');
            setError('');
          }}>JSON model</button>
        </div>
        {error && <div class="msg msg-error">{error}</div>}
        {tab === 'general' ? (
          <div class="settings">
            <div class="form-row">
              <label class="grow">
                Title
                <input value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
              </label>
              <label class="grow">
                Tags (comma separated)
                <input value={tags} onInput={(e) => setTags((e.target as HTMLInputElement).value)} />
              </label>
            </div>
            <fieldset>
              <legend>Variables</legend>
              <p class="muted small">
                A variable offers the values of a label (optionally only on series matching a selector) and is used in queries as <code>$name</code>.
              </p>
              {vars.map((v, i) => (
                <div class="form-row var-row">
                  <label>
                    Name
                    <input size={10} value={v.name} onInput={(e) => setVar(i, { name: (e.target as HTMLInputElement).value.trim() })} />
                  </label>
                  {v.values ? (
                    <label class="grow">
                      Values (comma separated)
                      <input value={v.values.join(', ')} onInput={(e) => setVar(i, { values: (e.target as HTMLInputElement).value.split(',').map((s) => s.trim()).filter(Boolean) })} />
                    </label>
                  ) : (
                    <>
                      <label>
                        Label
                        <input size={10} value={v.label} onInput={(e) => setVar(i, { label: (e.target as HTMLInputElement).value.trim() })} />
                      </label>
                      <label class="grow">
                        Series selector (optional)
                        <input placeholder='up{job="node"}' value={v.match ?? ''} onInput={(e) => setVar(i, { match: (e.target as HTMLInputElement).value || undefined })} />
                      </label>
                    </>
                  )}
                  <label class="check">
                    <input type="checkbox" checked={!!v.multi} onChange={(e) => setVar(i, { multi: (e.target as HTMLInputElement).checked })} /> Multi
                  </label>
                  <label class="check">
                    <input type="checkbox" checked={!!v.includeAll} onChange={(e) => setVar(i, { includeAll: (e.target as HTMLInputElement).checked })} /> All
                  </label>
                  <button class="btn btn-icon" title="Remove variable" onClick={() => setVars(vars.filter((_, j) => j !== i))}>✕</button>
                </div>
              ))}
              <button class="btn" onClick={() => setVars([...vars, { name: `var${vars.length + 1}`, label: 'instance', multi: false, includeAll: true, current: [] }])}>
                + Add variable
              </button>
            </fieldset>
          </div>
        ) : (
          <textarea class="json-edit" spellcheck={false} value={json} onInput={(e) => setJson((e.target as HTMLTextAreaElement).value)} aria-label="Dashboard JSON" />
        )}
        <div class="modal-foot">
          <button class="btn" onClick={onCancel}>Cancel</button>
          <button class="btn btn-primary" onClick={apply}>Apply</button>
        </div>
      </div>
    </div>
  );
}
