import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignMatrix, formatLegend, heatmapFromBuckets, seriesName, stackRows } from '../src/lib/series';
import { formatValue } from '../src/lib/units';
import { nextPanelPlacement, thresholdColor, validateDashboard } from '../src/lib/model';

test('series names print like Prometheus', () => {
  assert.equal(seriesName({ __name__: 'up', job: 'a', instance: 'b' }), 'up{instance="b", job="a"}');
  assert.equal(seriesName({}), '{}');
  assert.equal(formatLegend('{{ instance }}/{{job}}', { instance: 'i', job: 'j' }), 'i/j');
});

test('alignMatrix puts points on the step grid with gaps as null', () => {
  const a = alignMatrix([{ metric: {}, values: [[100, '1'], [120, '3'], [130, 'NaN']] }], 100, 130, 10);
  assert.deepEqual(a.xs, [100, 110, 120, 130]);
  assert.deepEqual(a.ys, [[1, null, 3, null]]);
});

test('stackRows adds visible rows only', () => {
  assert.deepEqual(stackRows([[1, 2], [3, null], [5, 5]], [true, true, false]), [[1, 2], [4, null], [5, 5]]);
});

test('heatmap de-cumulates buckets sorted by le', () => {
  const h = heatmapFromBuckets([
    { metric: { le: '+Inf' }, values: [[0, '10']] },
    { metric: { le: '0.5' }, values: [[0, '4']] },
    { metric: { le: '1' }, values: [[0, '7']] },
  ], 0, 0, 1);
  assert.ok(!('error' in h));
  if ('error' in h) return;
  assert.deepEqual(h.buckets, ['0.5', '1', '+Inf']);
  assert.deepEqual(h.counts, [[4], [3], [3]]);
  assert.ok('error' in heatmapFromBuckets([{ metric: {}, values: [] }], 0, 0, 1));
});

test('values format by unit', () => {
  assert.equal(formatValue(1536, 'bytes'), '1.5 KiB');
  assert.equal(formatValue(0.25, 'percentunit'), '25%');
  assert.equal(formatValue(0.0021, 's'), '2.1ms');
  assert.equal(formatValue(5400, 's'), '1.5h');
  assert.equal(formatValue(12345, 'short'), '12.3k');
  assert.equal(formatValue(3.14159, 'short', 2), '3.14');
  assert.equal(formatValue(null), '–');
  assert.equal(formatValue(Infinity), '+Inf');
});

test('thresholds pick the highest step reached', () => {
  const th = [{ value: null, color: 'green' }, { value: 50, color: 'orange' }, { value: 80, color: 'red' }];
  assert.equal(thresholdColor(10, th), 'green');
  assert.equal(thresholdColor(50, th), 'orange');
  assert.equal(thresholdColor(99, th), 'red');
  assert.equal(thresholdColor(1, []), null);
});

test('new panels fill the last row, then start a new one', () => {
  assert.deepEqual(nextPanelPlacement([]), { id: 1, gridPos: { x: 0, y: 0, w: 12, h: 8 } });
  const one = [{ id: 4, type: 'stat' as const, title: '', targets: [], gridPos: { x: 0, y: 0, w: 12, h: 8 } }];
  assert.deepEqual(nextPanelPlacement(one), { id: 5, gridPos: { x: 12, y: 0, w: 12, h: 8 } });
  const full = [{ ...one[0], gridPos: { x: 0, y: 0, w: 24, h: 8 } }];
  assert.deepEqual(nextPanelPlacement(full), { id: 5, gridPos: { x: 0, y: 8, w: 12, h: 8 } });
});

test('validateDashboard names what is wrong', () => {
  assert.deepEqual(validateDashboard({ title: 't', panels: [] }), []);
  assert.deepEqual(validateDashboard([]), ['the dashboard must be a JSON object']);
  const errs = validateDashboard({ title: '', uid: 'a b', panels: [{ type: 'pie', targets: [], gridPos: {} }] });
  assert.deepEqual(errs, [
    '"title" must be a non-empty string',
    'panels[0].type must be one of timeseries, stat, table, heatmap, bargauge',
    'panels[0].gridPos must have numeric x, y, w and h',
    '"uid" must match [A-Za-z0-9_-]{1,64}',
  ]);
});
