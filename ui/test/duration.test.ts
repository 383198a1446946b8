import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseStep, formatDuration, parseDuration } from '../src/lib/duration';
import { describeRange, parseTime, resolveRange } from '../src/lib/time';

test('parseDuration reads Prometheus durations', () => {
  assert.equal(parseDuration('15s'), 15_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2d'), 172_800_000);
  assert.equal(parseDuration('1w'), 604_800_000);
  assert.equal(parseDuration('1y'), 31_536_000_000);
  assert.equal(parseDuration('1m30s'), 90_000);
});

test('parseDuration refuses malformed durations', () => {
  for (const bad of ['', '5', 'm', '1.5h', '5x', '-5m', '5m5', ' ']) {
    assert.equal(parseDuration(bad), null, bad);
  }
});

test('formatDuration gives the shortest form', () => {
  assert.equal(formatDuration(15_000), '15s');
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(86_400_000), '1d');
  assert.equal(formatDuration(0), '0s');
});

test('chooseStep gives about one point per pixel, rounded to a nice step', () => {
  assert.equal(chooseStep(3_600_000, 1200), 5_000); // 3s raw -> 5s
  assert.equal(chooseStep(3_600_000, 360), 10_000); // 10s exactly
  assert.equal(chooseStep(86_400_000, 1000), 120_000); // 86.4s -> 2m
  assert.equal(chooseStep(7 * 86_400_000, 1000), 900_000); // 604.8s -> 15m
});

test('chooseStep never goes below 1s', () => {
  assert.equal(chooseStep(60_000, 2000), 1_000);
  assert.equal(chooseStep(1_000, 500), 1_000);
  assert.equal(chooseStep(5 * 60_000, 0), 300_000); // zero width counts as one pixel
});

test('chooseStep keeps a range query under 11,000 points', () => {
  const range = 365 * 86_400_000;
  const step = chooseStep(range, 100_000);
  assert.ok(range / step <= 11_000, `step ${step}`);
  assert.equal(chooseStep(10 * 365 * 86_400_000, 10), 365 * 86_400_000);
});

test('parseTime reads relative, RFC3339 and unix times', () => {
  const now = Date.UTC(2024, 0, 2, 3, 4, 5);
  assert.equal(parseTime('now', now), now);
  assert.equal(parseTime('now-15m', now), now - 900_000);
  assert.equal(parseTime('now+1h', now), now + 3_600_000);
  assert.equal(parseTime('2024-01-02T03:04:05Z', now), now);
  assert.equal(parseTime('2024-01-02T04:04:05+01:00', now), now);
  assert.equal(parseTime('1704164645', now), now);
  assert.equal(parseTime('1704164645000', now), now);
  assert.equal(parseTime('yesterday', now), null);
  assert.equal(parseTime('now-5q', now), null);
});

test('resolveRange names the bad end and refuses empty ranges', () => {
  assert.deepEqual(resolveRange({ from: 'now-1h', to: 'now' }, 10_000_000), { start: 6_400_000, end: 10_000_000 });
  assert.match((resolveRange({ from: 'x', to: 'now' }, 0) as any).error, /start time "x"/);
  assert.match((resolveRange({ from: 'now', to: 'now-1h' }, 1e7) as any).error, /after its start/);
});

test('describeRange names presets and other relative ranges', () => {
  assert.equal(describeRange({ from: 'now-1h', to: 'now' }), 'Last 1 hour');
  assert.equal(describeRange({ from: 'now-1y', to: 'now' }), 'Last 1 year');
  assert.equal(describeRange({ from: 'now-45m', to: 'now' }), 'Last 45m');
});
