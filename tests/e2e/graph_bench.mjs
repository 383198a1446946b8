// Benchmark of the Explore graph with 50 series x 10,001 points (step 1s over 10,000s),
// the size the web UI issue asks to stay smooth. Starts `vigil server` on a free port with
// a temporary data dir, pushes the data, opens Explore in headless chromium and prints:
// time to the first drawn graph, refresh times (query + JSON + alignment + setData), frame
// times while the cursor sweeps the plot (tooltip work), and the time to hide one series.
// Not a test (no thresholds): compare figures before/after a change in the same sitting.
//   node tests/e2e/graph_bench.mjs   (env: VIGIL_BIN, CHROMIUM)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VIGIL = process.env.VIGIL_BIN || path.join(root, 'build/vigil');
const SERIES = 50;
const POINTS = 10_001;

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const api = `http://127.0.0.1:${port}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-graph-bench-'));
const vigil = spawn(VIGIL, ['server', `--web.listen-address=127.0.0.1:${port}`, `--storage.tsdb.path=${dir}/data`], { stdio: 'ignore' });
let browser;
try {
  for (let i = 0; ; i++) {
    if (i > 200) throw new Error('vigil did not become ready');
    if (await fetch(`${api}/-/ready`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const end = Math.floor(Date.now() / 1000) * 1000;
  const start = end - (POINTS - 1) * 1000;
  for (let k0 = 0; k0 < POINTS; k0 += 1000) {
    const lines = [];
    for (let k = k0; k < Math.min(POINTS, k0 + 1000); k++) {
      for (let s = 0; s < SERIES; s++) lines.push(`bench_metric{series="s${String(s).padStart(2, '0')}"} ${s * 10 + (k % 100)} ${start + k * 1000}`);
    }
    const r = await fetch(`${api}/api/v1/import/prometheus`, { method: 'POST', body: lines.join('\n') + '\n' });
    if (!r.ok) throw new Error(`import: HTTP ${r.status}`);
  }
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(60_000);
  let t0 = Date.now();
  await page.goto(`${api}/ui/explore?q=bench_metric&from=${start}&to=${end}&step=1s`);
  await page.locator(`.graph-plot[data-series="${SERIES}"] canvas`).waitFor();
  console.log(`first graph (page load, query, draw): ${Date.now() - t0} ms; ${await page.getByTestId('result-info').innerText()}`);
  for (let i = 0; i < 3; i++) {
    const before = await page.getByTestId('result-info').innerText();
    t0 = Date.now();
    await page.getByRole('button', { name: '↻ Refresh' }).click();
    await page.waitForFunction((b) => document.querySelector('[data-testid=result-info]').innerText !== b, before);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
    console.log(`refresh ${i + 1}: ${Date.now() - t0} ms (uPlot instances: ${await page.locator('.uplot').count()})`);
  }
  const box = await page.locator('.u-over').boundingBox();
  await page.evaluate(() => {
    window.__frames = [];
    let last = performance.now();
    const f = (t) => {
      window.__frames.push(t - last);
      last = t;
      requestAnimationFrame(f);
    };
    requestAnimationFrame(f);
  });
  for (let x = 0; x < 200; x++) await page.mouse.move(box.x + (x / 200) * box.width, box.y + box.height / 2);
  const frames = (await page.evaluate(() => window.__frames.slice(1))).sort((a, b) => a - b);
  const q = (p) => frames[Math.min(frames.length - 1, Math.floor(frames.length * p))].toFixed(1);
  console.log(`cursor sweep: ${frames.length} frames, median ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${q(1)} ms`);
  t0 = Date.now();
  await page.locator('.legend li').first().click();
  await page.locator('.legend li.off').waitFor();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
  console.log(`hide one series: ${Date.now() - t0} ms`);
  console.log(`load average: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} cores`);
} finally {
  await browser?.close();
  vigil.kill('SIGTERM');
  await new Promise((r) => vigil.on('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });
}
