// Rules: groups from /api/v1/rules with each rule's query, state, health and last error.
import { ago, absTime, Empty, ErrorBox, LabelChips, Loading, StateBadge } from '../components/common';
import { useApi } from './Alerts';

interface Rule {
  type: 'alerting' | 'recording';
  name: string;
  query: string;
  duration?: number;
  keepFiringFor?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  alerts?: unknown[];
  health: string;
  lastError?: string;
  evaluationTime?: number;
  lastEvaluation?: string;
  state?: string;
}

interface Group {
  name: string;
  file: string;
  interval: number;
  rules: Rule[];
  evaluationTime?: number;
  lastEvaluation?: string;
}

function exploreHref(q: string) {
  return `/ui/explore?${new URLSearchParams({ q })}`;
}

export function Rules() {
  const { data, error } = useApi<{ groups: Group[] }>('/api/v1/rules', '30s');
  const groups = data?.groups ?? [];
  return (
    <div class="page">
      <div class="page-head">
        <h1>Rules</h1>
      </div>
      <ErrorBox error={error} />
      {!data && !error && <Loading what="rules" />}
      {data && groups.length === 0 && <Empty>No rule groups are loaded (rule_files in the configuration, or POST /alerts/rules).</Empty>}
      {groups.map((g) => (
        <div class="card group">
          <div class="group-head">
            <h2>{g.name}</h2>
            <span class="muted small">
              {g.file} · every {g.interval}s · last evaluated {ago(g.lastEvaluation)}
              {g.evaluationTime !== undefined && ` in ${(g.evaluationTime * 1000).toFixed(1)} ms`}
            </span>
          </div>
          <div class="table-wrap">
            <table class="table rules-table">
              <thead>
                <tr>
                  <th>Rule</th>
                  <th>State</th>
                  <th class="hide-narrow">Last evaluation</th>
                </tr>
              </thead>
              <tbody>
                {g.rules.map((r) => (
                  <tr>
                    <td>
                      <div>
                        <span class="muted small">{r.type === 'alerting' ? 'alert' : 'record'}</span> <strong>{r.name}</strong>
                      </div>
                      <a class="mono small query" href={exploreHref(r.query)}>{r.query}</a>
                      {!!r.duration && <div class="muted small">for {r.duration}s{r.keepFiringFor ? `, keep firing for ${r.keepFiringFor}s` : ''}</div>}
                      {r.labels && Object.keys(r.labels).length > 0 && <LabelChips labels={r.labels} />}
                      {r.lastError && <div class="inline-error">{r.lastError}</div>}
                    </td>
                    <td>
                      {r.state && <StateBadge state={r.state} />} <StateBadge state={r.health} />
                      {r.type === 'alerting' && r.alerts && r.alerts.length > 0 && <div class="muted small">{r.alerts.length} active</div>}
                    </td>
                    <td class="hide-narrow muted small" title={absTime(r.lastEvaluation)}>
                      {ago(r.lastEvaluation)}
                      {r.evaluationTime !== undefined && ` · ${(r.evaluationTime * 1000).toFixed(2)} ms`}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ))}
    </div>
  );
}
