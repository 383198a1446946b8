// Targets: scrape pools from /api/v1/targets with health, last scrape, duration and error.
import { useState } from 'preact/hooks';
import { ago, absTime, Empty, ErrorBox, LabelChips, Loading, StateBadge } from '../components/common';
import { useApi } from './Alerts';

interface Target {
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  lastError: string;
  lastScrape: string;
  lastScrapeDuration: number;
  health: string;
  scrapeInterval?: string;
}

export function Targets() {
  const { data, error } = useApi<{ activeTargets: Target[]; droppedTargets?: unknown[] }>('/api/v1/targets', '15s');
  const [onlyBad, setOnlyBad] = useState(false);
  const targets = data?.activeTargets ?? [];
  const pools = new Map<string, Target[]>();
  for (const t of targets) {
    if (!pools.has(t.scrapePool)) pools.set(t.scrapePool, []);
    pools.get(t.scrapePool)!.push(t);
  }
  const names = [...pools.keys()].sort();
  return (
    <div class="page">
      <div class="page-head">
        <h1>Targets</h1>
        <div class="head-actions">
          <label class="check">
            <input type="checkbox" checked={onlyBad} onChange={(e) => setOnlyBad((e.target as HTMLInputElement).checked)} /> Unhealthy only
          </label>
        </div>
      </div>
      <ErrorBox error={error} />
      {!data && !error && <Loading what="targets" />}
      {data && targets.length === 0 && <Empty>No scrape targets (scrape_configs in the configuration).</Empty>}
      {names.map((name) => {
        const all = pools.get(name)!;
        const up = all.filter((t) => t.health === 'up').length;
        const shown = onlyBad ? all.filter((t) => t.health !== 'up') : all;
        if (shown.length === 0) return null;
        return (
          <div class="card group">
            <div class="group-head">
              <h2>{name}</h2>
              <span class={up === all.length ? 'ok small' : 'bad small'}>
                {up}/{all.length} up
              </span>
            </div>
            <div class="table-wrap">
              <table class="table targets-table">
                <thead>
                  <tr>
                    <th>Endpoint</th>
                    <th>State</th>
                    <th class="hide-narrow">Labels</th>
                    <th>Last scrape</th>
                    <th class="hide-narrow num">Duration</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((t) => (
                    <tr>
                      <td>
                        <a href={t.scrapeUrl} class="mono small" rel="noreferrer">{t.scrapeUrl}</a>
                        {t.lastError && <div class="inline-error">{t.lastError}</div>}
                      </td>
                      <td><StateBadge state={t.health} /></td>
                      <td class="hide-narrow"><LabelChips labels={t.labels} /></td>
                      <td class="small" title={absTime(t.lastScrape)}>{ago(t.lastScrape)}</td>
                      <td class="hide-narrow num small">{(t.lastScrapeDuration * 1000).toFixed(1)} ms</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </div>
        );
      })}
    </div>
  );
}
