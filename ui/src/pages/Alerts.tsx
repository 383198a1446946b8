// Alerts: firing and pending alerts from /api/v1/alerts with labels, annotations, since
// when and value; a link silences an alert with its labels prefilled.
import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from '../api';
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

export function Alerts() {
  const { data, error } = useApi<{ alerts: Alert[] }>('/api/v1/alerts');
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
