// Alerts: firing and pending alerts from /api/v1/alerts with labels, annotations, since
// when and value; a link silences an alert with its labels prefilled.
import { useEffect, useState } from 'preact/hooks';
import { api, apiPlain, errorText } from '../api';
import { ago, absTime, Empty, ErrorBox, LabelChips, Link, Loading, StateBadge } from '../components/common';
import { useInterval } from '../components/TimeRangePicker';

interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
  activeAt?: string;
  value?: string;
}

export function useApi<T>(path: string, every = '15s') {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    api<T>(path)
      .then((r) => {
        setData(r.data);
        setError(null);
      })
      .catch((e) => setError(errorText(e)));
  useEffect(() => {
    load();
  }, [path]);
  useInterval(every, load);
  return { data, error, reload: load };
}

interface NotifierAlert {
  labels: Record<string, string>;
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
}

function labelsKey(l: Record<string, string>): string {
  return JSON.stringify(Object.keys(l).sort().map((k) => [k, l[k]]));
}

/** The notifier's view (/api/v2/alerts): which alerts silences or inhibitions suppress. */
function useSuppressed(): Map<string, NotifierAlert['status']> {
  const [m, setM] = useState(new Map<string, NotifierAlert['status']>());
  const load = () =>
    apiPlain<NotifierAlert[]>('/api/v2/alerts')
      .then((list) => setM(new Map((list ?? []).map((a) => [labelsKey(a.labels), a.status]))))
      .catch(() => setM(new Map())); // no notifier: nothing is known to be suppressed
  useEffect(() => {
    load();
  }, []);
  useInterval('15s', load);
  return m;
}

export function Alerts() {
  const { data, error } = useApi<{ alerts: Alert[] }>('/api/v1/alerts');
  const suppressed = useSuppressed();
  const [show, setShow] = useState<'all' | 'firing' | 'pending'>('all');
  const alerts = data?.alerts ?? [];
  const firing = alerts.filter((a) => a.state === 'firing');
  const pending = alerts.filter((a) => a.state === 'pending');
  const shown = (show === 'firing' ? firing : show === 'pending' ? pending : [...firing, ...pending, ...alerts.filter((a) => a.state !== 'firing' && a.state !== 'pending')]);

  return (
    <div class="page">
      <div class="page-head">
        <h1>Alerts</h1>
        <div class="head-actions">
          <div class="tabs">
            <button class={show === 'all' ? 'tab active' : 'tab'} onClick={() => setShow('all')}>All ({alerts.length})</button>
            <button class={show === 'firing' ? 'tab active' : 'tab'} onClick={() => setShow('firing')}>Firing ({firing.length})</button>
            <button class={show === 'pending' ? 'tab active' : 'tab'} onClick={() => setShow('pending')}>Pending ({pending.length})</button>
          </div>
        </div>
      </div>
      <ErrorBox error={error} />
      {!data && !error && <Loading what="alerts" />}
      {data && shown.length === 0 && <Empty>No {show === 'all' ? 'active' : show} alerts.</Empty>}
      <div class="alert-list">
        {shown.map((a) => {
          const { alertname, ...rest } = a.labels;
          const matchers = Object.entries(a.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',');
          return (
            <div class={`card alert-card state-${a.state}`} data-testid="alert">
              <div class="alert-head">
                <StateBadge state={a.state} />
                <strong class="alert-name">{alertname ?? '(no alertname)'}</strong>
                {(() => {
                  const st = suppressed.get(labelsKey(a.labels));
                  if (st?.silencedBy?.length) return <Link href="/ui/silences" class="badge badge-expired" title={`silenced by ${st.silencedBy.join(', ')}`}>silenced</Link>;
                  if (st?.inhibitedBy?.length) return <span class="badge badge-expired" title={`inhibited by ${st.inhibitedBy.join(', ')}`}>inhibited</span>;
                  return null;
                })()}
                <span class="muted" title={absTime(a.activeAt)}>active since {ago(a.activeAt)}</span>
                {a.value !== undefined && <span class="muted">value {a.value}</span>}
                <span class="spacer" />
                <Link href={`/ui/silences?${new URLSearchParams({ matchers })}`} class="small">Silence…</Link>
              </div>
              <LabelChips labels={rest} />
              {Object.keys(a.annotations ?? {}).length > 0 && (
                <dl class="annotations">
                  {Object.entries(a.annotations).map(([k, v]) => (
                    <>
                      <dt>{k}</dt>
                      <dd>{v}</dd>
                    </>
                  ))}
                </dl>
              )}
            </div>
          );
        })}
      </div>
    </div>
  );
}
