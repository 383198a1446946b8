import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL, formatVariable, regexEscape, substituteVariables } from '../src/lib/variables';

const one = (v: string) => ({ values: [v], multi: false, includeAll: false });

test('single values are inserted as written', () => {
  assert.equal(substituteVariables('up{instance="$host"}', { host: one('a:9100') }), 'up{instance="a:9100"}');
  assert.equal(substituteVariables('up{instance="${host}"}', { host: one('a') }), 'up{instance="a"}');
});

test('a longer name is not cut by a shorter one', () => {
  const vars = { host: one('h'), hostname: one('long') };
  assert.equal(substituteVariables('$hostname $host ${host}name', vars), 'long h hname');
});

test('multi values become a regex alternation, escaped', () => {
  const v = { values: ['a.b:1', 'c'], multi: true, includeAll: false };
  assert.equal(substituteVariables('up{i=~"$v"}', { v }), 'up{i=~"(a\\\\.b:1|c)"}');
  assert.equal(formatVariable({ values: ['x'], multi: true, includeAll: false }), 'x');
});

test('All becomes .*', () => {
  assert.equal(formatVariable({ values: [], multi: true, includeAll: true }), '.*');
  assert.equal(formatVariable({ values: [ALL], multi: false, includeAll: true }), '.*');
});

test('quotes and backslashes are escaped for the PromQL string', () => {
  assert.equal(substituteVariables('x{a="$v"}', { v: one('say "hi"\\') }), 'x{a="say \\"hi\\"\\\\"}');
});

test('unknown variables stay in the expression', () => {
  assert.equal(substituteVariables('rate(x[$nope])', {}), 'rate(x[$nope])');
});

test('built-in intervals follow the step and range', () => {
  const ctx = { stepMs: 30_000, rangeMs: 3_600_000 };
  assert.equal(substituteVariables('rate(x[$__interval])', {}, ctx), 'rate(x[30s])');
  assert.equal(substituteVariables('rate(x[$__rate_interval])', {}, ctx), 'rate(x[1m])');
  assert.equal(substituteVariables('rate(x[${__rate_interval}])', {}, { stepMs: 60_000, rangeMs: 1 }), 'rate(x[1m15s])');
  assert.equal(substituteVariables('increase(x[$__range])', {}, ctx), 'increase(x[1h])');
});

test('regexEscape escapes RE2 metacharacters', () => {
  assert.equal(regexEscape('a.b*c(d)|e'), 'a\\.b\\*c\\(d\\)\\|e');
});
