// Dashboard variable pickers: values come from /api/v1/label/<label>/values?match[]=<match>
// (the match may itself use other variables) or from a fixed list.
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText, labelValues } from '../api';
import type { Variable } from '../lib/model';
import { substituteVariables, variableValues } from '../lib/variables';

export function VariablesBar({ variables, onChange }: { variables: Variable[]; onChange: (name: string, current: string[]) => void }) {
  if (variables.length === 0) return null;
  return (
    <div class="variables">
      {variables.map((v) => (
        <VariablePicker key={v.name} v={v} all={variables} onChange={(cur) => onChange(v.name, cur)} />
      ))}
    </div>
  );
}

function VariablePicker({ v, all, onChange }: { v: Variable; all: Variable[]; onChange: (cur: string[]) => void }) {
  const [options, setOptions] = useState<string[]>(v.values ?? []);
  const [error, setError] = useState('');
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  // The match may depend on the other variables' values.
  const others = all.filter((o) => o.name !== v.name);
  const match = v.match ? substituteVariables(v.match, variableValues(others)) : undefined;

  useEffect(() => {
    if (v.values) {
      setOptions(v.values);
      return;
    }
    if (!v.label) return;
    const ac = new AbortController();
    labelValues(v.label, match, ac.signal)
      .then((r) => {
        setOptions(r.data ?? []);
        setError('');
        // A single-value variable with nothing (or a vanished value) selected takes the first value.
        const cur = v.current ?? [];
        if (!v.multi && !v.includeAll && r.data.length > 0 && (cur.length === 0 || !r.data.includes(cur[0]))) onChange([r.data[0]]);
      })
      .catch((e) => {
        if (!ac.signal.aborted) setError(errorText(e));
      });
    return () => ac.abort();
  }, [v.label, match, v.values?.join('\u0000')]);

  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (!root.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [open]);

  const cur = v.current ?? [];
  const isAll = cur.length === 0 && !!v.includeAll;

  if (!v.multi) {
    return (
      <label class="variable" title={error || undefined}>
        <span class="var-name">{v.name}</span>
        <select value={isAll ? '$__all' : cur[0] ?? ''} onChange={(e) => {
          const x = (e.target as HTMLSelectElement).value;
          onChange(x === '$__all' ? [] : [x]);
        }}>
          {v.includeAll && <option value="$__all">All</option>}
          {!v.includeAll && cur.length === 0 && <option value="">–</option>}
          {cur[0] && !options.includes(cur[0]) && <option value={cur[0]}>{cur[0]}</option>}
          {options.map((o) => (
            <option value={o}>{o}</option>
          ))}
        </select>
        {error && <span class="inline-error">!</span>}
      </label>
    );
  }
  const toggle = (o: string) => {
    const set = new Set(cur);
    if (set.has(o)) set.delete(o);
    else set.add(o);
    onChange(options.filter((x) => set.has(x)).concat([...set].filter((x) => !options.includes(x))));
  };
  return (
    <div class="variable" ref={root} title={error || undefined}>
      <span class="var-name">{v.name}</span>
      <button type="button" class="var-multi" onClick={() => setOpen(!open)}>
        {isAll ? 'All' : cur.length === 0 ? 'None' : cur.join(', ')} ▾
      </button>
      {open && (
        <div class="var-menu">
          {v.includeAll && (
            <label>
              <input type="checkbox" checked={isAll} onChange={() => onChange([])} /> All
            </label>
          )}
          {options.map((o) => (
            <label>
              <input type="checkbox" checked={cur.includes(o)} onChange={() => toggle(o)} /> {o}
            </label>
          ))}
          {options.length === 0 && <div class="muted">{error || 'No values'}</div>}
        </div>
      )}
    </div>
  );
}
