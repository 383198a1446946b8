// Silences (Alertmanager v2 API): list by state, create with matchers and a duration, expire.
import { useEffect, useState } from 'preact/hooks';
import { apiPlain, errorText, jsonBody } from '../api';
import { ago, absTime, Empty, ErrorBox, Loading, StateBadge } from '../components/common';
import { useInterval } from '../components/TimeRangePicker';
import { formatDuration, parseDuration } from '../lib/duration';

interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual?: boolean;
}

interface Silence {
  id: string;
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  updatedAt?: string;
  createdBy: string;
  comment: string;
  status: { state: 'active' | 'pending' | 'expired' };
}

const OPS = ['=', '!=', '=~', '!~'] as const;

function opOf(m: Matcher): string {
  return (m.isEqual === false ? '!' : '') + (m.isRegex ? '~' : '=');
}

function matcherText(m: Matcher): string {
  const op = opOf(m);
  return `${m.name}${op === '!=' || op === '=' ? op : op === '!~' ? '!~' : '=~'}${JSON.stringify(m.value)}`;
}

/** Reads `a="b",c=~"d"` (the Silence… link from Alerts) into matcher rows. */
function parseMatchers(s: string): { name: string; op: string; value: string }[] {
  const out = [];
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?/y;
  let m;
  while ((m = re.exec(s))) out.push({ name: m[1], op: m[2], value: JSON.parse(`"${m[3]}"`) });
  return out;
}

export function Silences() {
  const [list, setList] = useState<Silence[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [show, setShow] = useState<'active' | 'pending' | 'expired'>('active');
  const prefill = new URLSearchParams(location.search).get('matchers');
  const [creating, setCreating] = useState(!!prefill);

  const load = () =>
    apiPlain<Silence[]>('/api/v2/silences')
      .then((s) => {
        setList(s ?? []);
        setError(null);
      })
      .catch((e) => setError(`cannot list silences: ${errorText(e)}`));
  useEffect(() => {
    load();
  }, []);
  useInterval('30s', load);

  const expire = async (s: Silence) => {
    if (!confirm(`Expire the silence ${s.matchers.map(matcherText).join(', ')}?`)) return;
    try {
      await apiPlain(`/api/v2/silence/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
      await load();
    } catch (e) {
      setError(`cannot expire the silence: ${errorText(e)}`);
    }
  };

  const all = list ?? [];
  const count = (st: string) => all.filter((s) => s.status.state === st).length;
  const shown = all.filter((s) => s.status.state === show).sort((a, b) => Date.parse(b.startsAt) - Date.parse(a.startsAt));

  return (
    <div class="page">
      <div class="page-head">
        <h1>Silences</h1>
        <div class="head-actions">
          <div class="tabs">
            {(['active', 'pending', 'expired'] as const).map((st) => (
              <button class={show === st ? 'tab active' : 'tab'} onClick={() => setShow(st)}>
                {st[0].toUpperCase() + st.slice(1)} ({count(st)})
              </button>
            ))}
          </div>
          <button class="btn btn-primary" onClick={() => setCreating(true)}>+ New silence</button>
        </div>
      </div>
      <ErrorBox error={error} />
      {creating && (
        <SilenceForm
          initial={prefill ? parseMatchers(prefill) : []}
          onDone={() => {
            setCreating(false);
            setShow('active');
            load();
          }}
          onCancel={() => setCreating(false)}
        />
      )}
      {!list && !error && <Loading what="silences" />}
      {list && shown.length === 0 && <Empty>No {show} silences.</Empty>}
      <div class="silence-list">
        {shown.map((s) => (
          <div class="card silence" data-testid="silence">
            <div class="alert-head">
              <StateBadge state={s.status.state} />
              <span class="chips">
                {s.matchers.map((m) => (
                  <span class="chip mono">{matcherText(m)}</span>
                ))}
              </span>
              <span class="spacer" />
              {s.status.state !== 'expired' && (
                <button class="btn btn-danger btn-small" onClick={() => expire(s)}>Expire</button>
              )}
            </div>
            <div class="muted small">
              {s.status.state === 'pending' ? 'starts ' + ago(s.startsAt) : 'started ' + ago(s.startsAt)} ({absTime(s.startsAt)}) ·{' '}
              {s.status.state === 'expired' ? 'ended ' : 'ends '}
              {ago(s.endsAt)} ({absTime(s.endsAt)}) · by {s.createdBy || 'unknown'}
            </div>
            {s.comment && <div class="silence-comment">{s.comment}</div>}
            <div class="muted small mono">id {s.id}</div>
          </div>
        ))}
      </div>
    </div>
  );
}

function SilenceForm({ initial, onDone, onCancel }: { initial: { name: string; op: string; value: string }[]; onDone: () => void; onCancel: () => void }) {
  const [rows, setRows] = useState(initial.length ? initial : [{ name: 'alertname', op: '=', value: '' }]);
  const [duration, setDuration] = useState('2h');
  const [createdBy, setCreatedBy] = useState(() => localStorage.getItem('vigil.silence.author') ?? '');
  const [comment, setComment] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const setRow = (i: number, patch: Partial<(typeof rows)[0]>) => setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const d = parseDuration(duration);

  const submit = async (e: Event) => {
    e.preventDefault();
    const ms = rows.filter((r) => r.name.trim() !== '');
    if (ms.length === 0) return setError('a silence needs at least one matcher');
    if (ms.some((r) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(r.name.trim()))) return setError('matcher names must be label names ([A-Za-z_][A-Za-z0-9_]*)');
    if (!d) return setError(`cannot parse duration "${duration}" (e.g. 2h, 1d, 30m)`);
    if (!createdBy.trim()) return setError('enter who creates the silence');
    if (!comment.trim()) return setError('enter a comment (why the alerts are silenced)');
    const now = Date.now();
    const body = {
      matchers: ms.map((r) => ({ name: r.name.trim(), value: r.value, isRegex: r.op.endsWith('~'), isEqual: !r.op.startsWith('!') })),
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + d).toISOString(),
      createdBy: createdBy.trim(),
      comment: comment.trim(),
    };
    setBusy(true);
    try {
      await apiPlain('/api/v2/silences', jsonBody('POST', body));
      localStorage.setItem('vigil.silence.author', createdBy.trim());
      onDone();
    } catch (e) {
      setError(`cannot create the silence: ${errorText(e)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card silence-form" onSubmit={submit} aria-label="New silence">
      <h2>New silence</h2>
      {rows.map((r, i) => (
        <div class="form-row matcher-row">
          <input aria-label="Label name" placeholder="label" size={12} value={r.name} onInput={(e) => setRow(i, { name: (e.target as HTMLInputElement).value })} />
          <select aria-label="Operator" value={r.op} onChange={(e) => setRow(i, { op: (e.target as HTMLSelectElement).value })}>
            {OPS.map((o) => (
              <option value={o}>{o}</option>
            ))}
          </select>
          <input aria-label="Label value" placeholder="value" class="grow" value={r.value} onInput={(e) => setRow(i, { value: (e.target as HTMLInputElement).value })} />
          <button type="button" class="btn btn-icon" title="Remove matcher" onClick={() => setRows(rows.filter((_, j) => j !== i))}>✕</button>
        </div>
      ))}
      <button type="button" class="btn" onClick={() => setRows([...rows, { name: '', op: '=', value: '' }])}>+ Matcher</button>
      <div class="form-row">
        <label>
          Duration
          <input aria-label="Duration" size={6} value={duration} onInput={(e) => setDuration((e.target as HTMLInputElement).value.trim())} />
        </label>
        <span class="muted small">{d ? `until ${new Date(Date.now() + d).toLocaleString()} (${formatDuration(d)})` : 'e.g. 30m, 2h, 1d'}</span>
      </div>
      <div class="form-row">
        <label class="grow">
          Created by
          <input aria-label="Created by" value={createdBy} onInput={(e) => setCreatedBy((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      <label class="block">
        Comment
        <textarea aria-label="Comment" rows={2} value={comment} onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)} />
      </label>
      <ErrorBox error={error} />
      <div class="form-row">
        <button type="submit" class="btn btn-primary" disabled={busy}>Create silence</button>
        <button type="button" class="btn" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
