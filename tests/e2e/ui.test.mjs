// End-to-end tests of Vigil's web UI: a real `vigil server` on 127.0.0.1 with a temporary
// data directory and pushed data, driven by Debian's chromium (headless) through
// playwright-core. Every page is screenshotted at 1280x800 and 420x800 into
// $E2E_ARTIFACTS (printed at the end).
//
// Environment: VIGIL_BIN (the binary, default build/vigil), E2E_ARTIFACTS (screenshot dir),
// CHROMIUM (default /usr/bin/chromium). For UI development only: E2E_BASE_URL points the
// browser at a dev server instead, and E2E_VIGIL_PORT fixes vigil's port for it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const VIGIL = process.env.VIGIL_BIN || path.join(root, 'build/vigil');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.resolve(process.env.E2E_ARTIFACTS || path.join(root, 'build/e2e-artifacts'));
const SIZES = [
  [1280, 800],
  [420, 800],
];

let vigil; // child process
let dataDir;
let api; // http://127.0.0.1:port
let base; // where the browser goes
let browser;
let context;
let page;
const pageErrors = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitReady(url, ms) {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    if (vigil.exitCode !== null) throw new Error(`vigil exited with ${vigil.exitCode} before it was ready`);
    try {
      const r = await fetch(`${url}/-/ready`);
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`vigil not ready at ${url} after ${ms} ms (${last})`);
}

/** Pushes `e2e_requests_total` (3 instances) and a histogram over the last 30 minutes. */
async function pushData() {
  const now = Date.now();
  const lines = [];
  for (let k = 120; k >= 0; k--) {
    const t = now - k * 15_000;
    const i = 120 - k;
    for (const [n, inst] of ['a:9100', 'b:9100', 'c:9100'].entries()) {
      lines.push(`e2e_requests_total{instance="${inst}",job="e2e"} ${i * (n + 1) * 3} ${t}`);
    }
    let cum = 0;
    for (const [le, per] of [['0.1', 5], ['0.5', 3], ['1', 1], ['+Inf', 1]]) {
      cum += per * i;
      lines.push(`e2e_latency_seconds_bucket{job="e2e",le="${le}"} ${cum} ${t}`);
    }
  }
  const r = await fetch(`${api}/api/v1/import/prometheus`, { method: 'POST', body: lines.join('\n') + '\n' });
  assert.ok(r.ok, `import: HTTP ${r.status} ${await r.text()}`);
  // Ingest is asynchronous from the client's view only through the head; wait until readable.
  for (let tries = 0; tries < 50; tries++) {
    const q = await fetch(`${api}/api/v1/query?query=${encodeURIComponent('count(e2e_requests_total)')}`).then((x) => x.json());
    if (q.data?.result?.[0]?.value?.[1] === '3') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('pushed data never became queryable');
}

async function shot(name) {
  for (const [w, h] of SIZES) {
    await page.setViewportSize({ width: w, height: h });
    await page.waitForTimeout(250); // graphs follow the resize
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${w}x${h}.png`) });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

async function typeQuery(expr) {
  const ed = page.locator('.cm-content').first();
  await ed.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.type(expr, { delay: 5 });
  await page.keyboard.press('Escape'); // close completion so Enter runs the query
  await page.keyboard.press('Enter');
}

describe('web UI', { timeout: 170_000 }, () => {
  before(async () => {
    if (!fs.existsSync(VIGIL)) throw new Error(`vigil binary not found at ${VIGIL}; build it first`);
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (scripts/setup.sh)`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    for (const f of fs.readdirSync(ARTIFACTS)) if (f.endsWith('.png')) fs.rmSync(path.join(ARTIFACTS, f));
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-e2e-'));
    const port = Number(process.env.E2E_VIGIL_PORT) || (await freePort());
    api = `http://127.0.0.1:${port}`;
    base = process.env.E2E_BASE_URL || api;
    fs.writeFileSync(
      path.join(dataDir, 'rules.yml'),
      `groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: E2EAlwaysFiring
        expr: vector(1)
        labels: {severity: warning}
        annotations: {summary: "Fires from the start so the Alerts page has content"}
      - record: job:e2e_requests:rate1m
        expr: sum by (job) (rate(e2e_requests_total[1m]))
`,
    );
    fs.writeFileSync(
      path.join(dataDir, 'vigil.yml'),
      `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: self
    static_configs: [{targets: ['127.0.0.1:${port}']}]
  - job_name: unreachable
    static_configs: [{targets: ['127.0.0.1:1']}]
`,
    );
    const log = fs.openSync(path.join(ARTIFACTS, 'vigil.log'), 'w');
    vigil = spawn(VIGIL, ['server', `--web.listen-address=127.0.0.1:${port}`, `--storage.tsdb.path=${path.join(dataDir, 'data')}`, `--config.file=${path.join(dataDir, 'vigil.yml')}`], {
      cwd: dataDir,
      stdio: ['ignore', log, log],
    });
    await waitReady(api, 20_000);
    await pushData();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(20_000); // generous: CI runs other suites beside this one
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    page.on('dialog', (d) => d.accept()); // confirm() before expiring or deleting
  });

  after(async () => {
    await browser?.close().catch(() => {});
    if (vigil && vigil.exitCode === null) {
      vigil.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          vigil.kill('SIGKILL');
          r();
        }, 5000);
        vigil.on('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    }
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    console.log(`e2e: screenshots and vigil.log in ${ARTIFACTS}`);
  });

  test('GET / redirects to the UI and the UI is served from the binary', async () => {
    const r = await fetch(`${api}/`, { redirect: 'manual' });
    assert.equal(r.status, 302);
    assert.match(r.headers.get('location') ?? '', /\/ui\/$/);
    const html = await fetch(`${api}/ui/dashboards/anything`).then((x) => x.text());
    assert.match(html, /<div id="app">/, 'SPA fallback serves index.html');
  });

  test('explore: a typed query draws one line per series', async () => {
    await page.goto(`${base}/ui/explore`);
    await typeQuery('rate(e2e_requests_total[1m])');
    await page.locator('.graph-plot[data-series="3"] canvas').waitFor();
    assert.equal(await page.locator('.legend li').count(), 3);
    assert.match(await page.getByTestId('result-info').innerText(), /^3 series/);
    // The URL keeps the query, so a reload shows the same graph.
    await page.reload();
    await page.locator('.graph-plot[data-series="3"] canvas').waitFor();
    // Clicking a legend entry hides that series.
    await page.locator('.legend li').first().click();
    await page.locator('.legend li.off').waitFor();
    await shot('explore-graph');
    // Stacked mode keeps the series and puts the mode in the URL.
    await page.getByLabel('Graph mode').selectOption('stacked');
    await page.waitForURL(/mode=stacked/);
    await page.locator('.graph-plot[data-series="3"] canvas').waitFor();
    await shot('explore-stacked');
  });

  test('explore: completion offers metric names from the server', async () => {
    await page.goto(`${base}/ui/explore`);
    await page.locator('.cm-content').click();
    await page.keyboard.type('e2e_req', { delay: 20 });
    await page.locator('.cm-tooltip-autocomplete', { hasText: 'e2e_requests_total' }).waitFor();
  });

  test('explore: table view and errors', async () => {
    await page.goto(`${base}/ui/explore?tab=table`);
    await typeQuery('e2e_requests_total');
    await page.locator('.result-table tbody tr').nth(2).waitFor();
    assert.equal(await page.locator('.result-table tbody tr').count(), 3);
    await shot('explore-table');
    await typeQuery('sum(rate(e2e_requests_total[1m]) by (');
    const err = page.locator('.msg-error');
    await err.waitFor();
    assert.match(await err.innerText(), /parse error|unexpected|bad_data/i);
    await shot('explore-error');
  });

  let uid = '';
  test('dashboards: create with a panel, save, reload and find it again', async () => {
    await page.goto(`${base}/ui/dashboards/new`);
    await page.getByRole('button', { name: 'Settings / JSON' }).click();
    await page.locator('.modal .form-row label', { hasText: 'Title' }).locator('input').fill('E2E dashboard');
    await page.locator('.modal').getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('button', { name: '+ Add panel' }).first().click();
    const dlg = page.getByRole('dialog', { name: 'Edit panel' });
    await dlg.locator('label', { hasText: 'Title' }).locator('input').fill('Requests per second');
    await dlg.locator('.cm-content').click();
    await page.keyboard.type('sum by (instance) (rate(e2e_requests_total[1m]))', { delay: 2 });
    await page.keyboard.press('Escape');
    await dlg.getByRole('button', { name: 'Preview' }).click();
    await dlg.locator('.graph-plot[data-series="3"]').waitFor();
    await shot('dashboard-panel-editor');
    await dlg.getByRole('button', { name: 'Apply' }).click();
    await page.getByTestId('save-dashboard').click();
    await page.waitForURL((u) => /^\/ui\/dashboards\/[A-Za-z0-9_-]+$/.test(u.pathname) && !u.pathname.endsWith('/new'));
    uid = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    assert.notEqual(uid, 'new');
    await page.reload();
    await page.getByTestId('dashboard-title').filter({ hasText: 'E2E dashboard' }).waitFor();
    await page.locator('.panel', { hasText: 'Requests per second' }).locator('.graph-plot[data-series="3"] canvas').waitFor();
    await shot('dashboard-view');
    await page.goto(`${base}/ui/dashboards`);
    await page.getByRole('link', { name: 'E2E dashboard' }).waitFor();
    // The server has it too.
    const list = await fetch(`${api}/api/v1/dashboards`).then((r) => r.json());
    assert.ok(list.data.some((d) => d.uid === uid && d.title === 'E2E dashboard'));
  });

  test('dashboards: the built-in overview dashboard is listed and renders', async () => {
    await page.goto(`${base}/ui/dashboards`);
    await page.locator('a[href="/ui/dashboards/vigil-overview"]').click();
    await page.locator('.panel').first().waitFor();
    await page.waitForTimeout(1000);
    await shot('dashboard-overview');
    assert.equal(await page.locator('.panel-error').count(), 0, 'no panel of the overview dashboard shows an error');
  });

  test('dashboards: import a Grafana dashboard', async () => {
    const grafana = {
      title: 'From Grafana',
      uid: 'from-grafana',
      templating: { list: [{ type: 'query', name: 'instance', multi: true, includeAll: true, query: 'label_values(e2e_requests_total, instance)', current: { value: ['$__all'] } }] },
      panels: [
        { id: 1, type: 'timeseries', title: 'Rate', gridPos: { x: 0, y: 0, w: 12, h: 8 }, targets: [{ expr: 'rate(e2e_requests_total{instance=~"$instance"}[$__rate_interval])', legendFormat: '{{instance}}' }], fieldConfig: { defaults: { unit: 'reqps' } } },
        { id: 2, type: 'stat', title: 'Series', gridPos: { x: 12, y: 0, w: 6, h: 4 }, targets: [{ expr: 'count(e2e_requests_total)' }], fieldConfig: { defaults: { thresholds: { steps: [{ value: null, color: 'green' }, { value: 10, color: 'red' }] } } } },
        { id: 3, type: 'bargauge', title: 'Totals', gridPos: { x: 18, y: 0, w: 6, h: 4 }, targets: [{ expr: 'e2e_requests_total', legendFormat: '{{instance}}' }] },
        { id: 4, type: 'heatmap', title: 'Latency', gridPos: { x: 12, y: 4, w: 12, h: 4 }, targets: [{ expr: 'sum by (le) (rate(e2e_latency_seconds_bucket[1m]))', format: 'heatmap' }] },
        { id: 5, type: 'table', title: 'Table', gridPos: { x: 0, y: 8, w: 24, h: 5 }, targets: [{ expr: 'e2e_requests_total' }] },
        { id: 6, type: 'text', title: 'Notes', gridPos: { x: 0, y: 13, w: 24, h: 2 } },
      ],
    };
    await page.goto(`${base}/ui/dashboards`);
    await page.getByRole('button', { name: 'Import…' }).click();
    await page.getByLabel('Dashboard JSON').fill(JSON.stringify(grafana));
    await page.getByRole('dialog').getByRole('button', { name: 'Import', exact: true }).click();
    await page.waitForURL(/\/ui\/dashboards\/from-grafana$/);
    await page.locator('.panel').nth(4).waitFor();
    assert.equal(await page.locator('.panel').count(), 5, 'the text panel is skipped');
    await page.locator('.panel', { hasText: 'Rate' }).locator('.graph-plot[data-series="3"]').waitFor();
    assert.equal(await page.locator('.panel', { hasText: 'Series' }).locator('.stat-value').innerText(), '3');
    await page.locator('.panel', { hasText: 'Latency' }).locator('canvas').waitFor();
    const bars = page.locator('.panel', { hasText: 'Totals' }).locator('.bar-row');
    await bars.nth(2).waitFor();
    assert.equal(await bars.count(), 3);
    await page.waitForTimeout(500);
    await shot('dashboard-grafana-import');
    // The variable is in the URL; choosing one instance there narrows the panels to it.
    assert.match(page.url(), /var-instance=All/);
    await page.goto(`${base}/ui/dashboards/from-grafana?var-instance=b%3A9100`);
    await page.locator('.panel', { hasText: 'Rate' }).locator('.graph-plot[data-series="1"]').waitFor();
    assert.equal(await page.locator('.panel', { hasText: 'Rate' }).locator('.legend li').innerText(), 'b:9100');
  });

  test('silences: create one, see it listed, expire it', async () => {
    await page.goto(`${base}/ui/silences`);
    await page.getByRole('button', { name: '+ New silence' }).click();
    const form = page.getByRole('form', { name: 'New silence' });
    await form.getByLabel('Label name').fill('alertname');
    await form.getByLabel('Label value').fill('E2EAlwaysFiring');
    await form.getByLabel('Duration').fill('1h');
    await form.getByLabel('Created by').fill('e2e');
    await form.getByLabel('Comment').fill('silenced by the browser test');
    await shot('silences-form');
    await form.getByRole('button', { name: 'Create silence' }).click();
    const item = page.getByTestId('silence').filter({ hasText: 'alertname="E2EAlwaysFiring"' });
    await item.waitFor();
    assert.match(await item.innerText(), /silenced by the browser test/);
    await shot('silences');
    // The Alerts page shows the alert as silenced (the notifier's /api/v2/alerts).
    await page.goto(`${base}/ui/alerts`);
    await page.getByTestId('alert').filter({ hasText: 'E2EAlwaysFiring' }).locator('text=silenced').waitFor();
    await shot('alerts-silenced');
    await page.goto(`${base}/ui/silences`);
    await item.getByRole('button', { name: 'Expire' }).click();
    await page.getByTestId('silence').filter({ hasText: 'E2EAlwaysFiring' }).waitFor({ state: 'detached' });
    await page.getByRole('button', { name: /^Expired/ }).click();
    await page.getByTestId('silence').filter({ hasText: 'E2EAlwaysFiring' }).waitFor();
  });

  test('every page renders without script errors', async () => {
    const waits = {
      alerts: () => page.getByTestId('alert').filter({ hasText: 'E2EAlwaysFiring' }).waitFor(),
      rules: () => page.locator('text=job:e2e_requests:rate1m').waitFor(),
      targets: () => page.locator('text=unreachable').first().waitFor(),
      status: () => page.getByTestId('num-series').waitFor(),
      dashboards: () => page.getByTestId('dashboard-list').waitFor(),
      explore: () => page.locator('.cm-content').waitFor(),
    };
    for (const [name, wait] of Object.entries(waits)) {
      await page.goto(`${base}/ui/${name}`);
      await wait();
      await shot(name);
    }
    for (const tab of ['Build & runtime', 'Configuration', 'Flags']) {
      await page.goto(`${base}/ui/status`);
      await page.getByRole('button', { name: tab }).click();
      await page.locator('.card table, .card pre').first().waitFor();
      await shot(`status-${tab.split(' ')[0].toLowerCase()}`);
    }
    // The narrow layout's menu opens.
    await page.setViewportSize({ width: 420, height: 800 });
    await page.goto(`${base}/ui/alerts`);
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.locator('nav.open').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'menu-open-420x800.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.deepEqual(pageErrors, []);
  });
});
