import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertGrafanaDashboard, looksLikeGrafana, parseLabelValuesQuery } from '../src/lib/grafana';
import { validateDashboard } from '../src/lib/model';

const grafana = {
  uid: 'node-exp',
  title: 'Node Exporter',
  tags: ['linux'],
  schemaVersion: 39,
  time: { from: 'now-6h', to: 'now' },
  refresh: '1m',
  templating: {
    list: [
      { type: 'datasource', name: 'DS_PROMETHEUS', query: 'prometheus' },
      { type: 'query', name: 'job', query: { query: 'label_values(node_uname_info, job)', refId: 'A' }, current: { value: 'node' } },
      {
        type: 'query', name: 'instance', multi: true, includeAll: true,
        query: 'label_values(node_uname_info{job="$job", a=~"x,y"}, instance)',
        current: { value: ['$__all'] },
      },
      { type: 'custom', name: 'q', query: '0.5, 0.9,0.99', current: { value: '0.9' } },
      { type: 'interval', name: 'iv', query: '1m,5m' },
      { type: 'query', name: 'mx', query: 'metrics(node_.*)' },
    ],
  },
  panels: [
    {
      id: 1, type: 'timeseries', title: 'CPU', gridPos: { x: 0, y: 0, w: 12, h: 8 },
      targets: [
        { expr: 'sum by (mode)(rate(node_cpu_seconds_total{instance=~"$instance"}[$__rate_interval]))', legendFormat: '{{mode}}' },
        { expr: 'hidden', hide: true },
      ],
      fieldConfig: { defaults: { unit: 'percentunit', decimals: 1, custom: { stacking: { mode: 'normal' } },
        thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'red', value: 80 }] } } },
    },
    { id: 2, type: 'text', title: 'Notes', gridPos: { x: 12, y: 0, w: 12, h: 8 } },
    {
      type: 'row', title: 'Disk', collapsed: true, gridPos: { x: 0, y: 8, w: 24, h: 1 },
      panels: [
        { id: 3, type: 'gauge', title: 'Disk used', gridPos: { x: 0, y: 9, w: 30, h: 6 },
          targets: [{ expr: '1 - node_filesystem_avail_bytes / node_filesystem_size_bytes', legendFormat: '__auto' }] },
        { id: 3, type: 'heatmap', title: 'Latency', gridPos: { x: 12, y: 9, w: 12, h: 6 },
          targets: [{ expr: 'sum by (le)(rate(x_bucket[5m]))', format: 'heatmap' }, { refId: 'B' }] },
      ],
    },
    { id: 5, type: 'singlestat', title: 'Uptime', format: 's', thresholds: '50,80', colors: ['#0a0', '#fa0', '#f00'],
      gridPos: { x: 0, y: 15, w: 6, h: 4 }, targets: [{ expr: 'time() - node_boot_time_seconds' }] },
    { id: 6, type: 'graph', title: 'Old graph', stack: true, yaxes: [{ format: 'bytes' }], gridPos: { x: 6, y: 15, w: 18, h: 4 },
      targets: [{ expr: 'node_memory_MemFree_bytes' }] },
  ],
};

test('Grafana JSON is recognised, Vigil JSON is not', () => {
  assert.ok(looksLikeGrafana(grafana));
  assert.ok(looksLikeGrafana({ dashboard: grafana }));
  assert.ok(!looksLikeGrafana({ title: 'x', panels: [{ id: 1, type: 'stat', targets: [] }] }));
});

test('panels convert with targets, units, thresholds, stacking and positions', () => {
  const { dashboard: d, warnings } = convertGrafanaDashboard(grafana);
  assert.deepEqual(validateDashboard(d), []);
  assert.equal(d.title, 'Node Exporter');
  assert.equal(d.uid, 'node-exp');
  assert.deepEqual(d.time, { from: 'now-6h', to: 'now' });
  assert.equal(d.refresh, '1m');
  assert.deepEqual(d.panels.map((p) => [p.id, p.type, p.title]), [
    [1, 'timeseries', 'CPU'], [3, 'bargauge', 'Disk used'], [2, 'heatmap', 'Latency'], [5, 'stat', 'Uptime'], [6, 'timeseries', 'Old graph'],
  ]);
  const cpu = d.panels[0];
  assert.deepEqual(cpu.targets, [{ expr: 'sum by (mode)(rate(node_cpu_seconds_total{instance=~"$instance"}[$__rate_interval]))', legendFormat: '{{mode}}' }]);
  assert.equal(cpu.unit, 'percentunit');
  assert.equal(cpu.decimals, 1);
  assert.equal(cpu.stacked, true);
  assert.deepEqual(cpu.thresholds, [{ value: null, color: 'green' }, { value: 80, color: 'red' }]);
  assert.deepEqual(d.panels[1].gridPos, { x: 0, y: 9, w: 24, h: 6 }); // w clamped to 24
  assert.deepEqual(d.panels[1].targets, [{ expr: '1 - node_filesystem_avail_bytes / node_filesystem_size_bytes' }]);
  assert.deepEqual(d.panels[3].thresholds, [{ value: null, color: '#0a0' }, { value: 50, color: '#fa0' }, { value: 80, color: '#f00' }]);
  assert.equal(d.panels[3].unit, 's');
  assert.equal(d.panels[4].unit, 'bytes');
  assert.equal(d.panels[4].stacked, true);
  assert.ok(warnings.some((w) => w.includes('"Notes"') && w.includes('text')));
  assert.ok(warnings.some((w) => w.includes('"Latency"') && w.includes('without a PromQL')));
});

test('variables convert from label_values and custom, others are reported', () => {
  const { dashboard: d, warnings } = convertGrafanaDashboard({ dashboard: grafana });
  assert.deepEqual(d.variables, [
    { name: 'job', label: 'job', match: 'node_uname_info', multi: false, includeAll: false, current: ['node'] },
    { name: 'instance', label: 'instance', match: 'node_uname_info{job="$job", a=~"x,y"}', multi: true, includeAll: true, current: [] },
    { name: 'q', label: '', values: ['0.5', '0.9', '0.99'], multi: false, includeAll: false, current: ['0.9'] },
  ]);
  assert.ok(warnings.some((w) => w.includes('"iv"')));
  assert.ok(warnings.some((w) => w.includes('"mx"') && w.includes('label_values')));
});

test('label_values queries parse with and without a selector', () => {
  assert.deepEqual(parseLabelValuesQuery('label_values(job)'), { label: 'job' });
  assert.deepEqual(parseLabelValuesQuery(' label_values( up{a="1,2"} , instance ) '), { label: 'instance', match: 'up{a="1,2"}' });
  assert.equal(parseLabelValuesQuery('query_result(up)'), null);
  assert.equal(parseLabelValuesQuery('label_values(up, "x")'), null);
});

test('old row layouts get grid positions from span and height', () => {
  const { dashboard: d } = convertGrafanaDashboard({
    title: 'old', rows: [
      { height: '300px', panels: [{ id: 1, type: 'graph', span: 6, targets: [{ expr: 'a' }] }, { id: 2, type: 'singlestat', span: 6, targets: [{ expr: 'b' }] }] },
      { height: 240, panels: [{ id: 3, type: 'table', span: 12, targets: [{ expr: 'c' }] }] },
    ],
  });
  assert.deepEqual(d.panels.map((p) => p.gridPos), [
    { x: 0, y: 0, w: 12, h: 10 }, { x: 12, y: 0, w: 12, h: 10 }, { x: 0, y: 10, w: 24, h: 8 },
  ]);
});

test('a non-object is refused', () => {
  assert.throws(() => convertGrafanaDashboard(42), /JSON object/);
});
