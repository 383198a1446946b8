// Table view of an instant query result (vector, scalar, string; a matrix shows its samples).
import type { QueryData } from '../api';
import { parseSampleValue, seriesName } from '../lib/series';
import { formatValue } from '../lib/units';

const MAX_ROWS = 2000;

export function ResultTable({ data, unit, decimals }: { data: QueryData; unit?: string; decimals?: number | null }) {
  const fmt = (v: string) => (unit ? formatValue(parseSampleValue(v), unit, decimals) : v);
  switch (data.resultType) {
    case 'scalar':
    case 'string':
      return (
        <table class="table result-table">
          <thead>
            <tr>
              <th>{data.resultType}</th>
              <th class="num">value</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td class="muted">{new Date(data.result[0] * 1000).toLocaleString()}</td>
              <td class="num">{data.resultType === 'scalar' ? fmt(data.result[1]) : data.result[1]}</td>
            </tr>
          </tbody>
        </table>
      );
    case 'vector': {
      const rows = data.result as { metric: Record<string, string>; value: [number, string] }[];
      if (rows.length === 0) return <div class="empty">Empty result: no series matched at this time.</div>;
      return (
        <div class="table-wrap">
          <table class="table result-table">
            <thead>
              <tr>
                <th>Series</th>
                <th class="num">Value</th>
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, MAX_ROWS).map((r) => (
                <tr>
                  <td class="mono series">{seriesName(r.metric)}</td>
                  <td class="num mono">{fmt(r.value[1])}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length > MAX_ROWS && <div class="muted">Showing {MAX_ROWS} of {rows.length} series.</div>}
        </div>
      );
    }
    case 'matrix': {
      const rows = data.result as { metric: Record<string, string>; values: [number, string][] }[];
      if (rows.length === 0) return <div class="empty">Empty result: no series matched.</div>;
      return (
        <div class="table-wrap">
          <table class="table result-table">
            <thead>
              <tr>
                <th>Series</th>
                <th>Samples (value @ time)</th>
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, MAX_ROWS).map((r) => (
                <tr>
                  <td class="mono series">{seriesName(r.metric)}</td>
                  <td class="mono small">
                    {r.values.slice(-20).map(([t, v]) => (
                      <div>
                        {fmt(v)} @{t}
                      </div>
                    ))}
                    {r.values.length > 20 && <div class="muted">… {r.values.length - 20} earlier</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      );
    }
  }
  return null;
}
