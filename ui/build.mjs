// Bundles the UI with esbuild. `node build.mjs OUTDIR` writes OUTDIR/index.html and
// OUTDIR/assets/app-<hash>.{js,css}; `node build.mjs --tests OUTDIR` bundles test/*.test.ts
// for `node --test` instead.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const tests = args[0] === '--tests';
const outdir = path.resolve(tests ? args[1] : args[0] ?? '');
if (!outdir || (tests && !args[1])) {
  console.error('build.mjs: usage: node build.mjs [--tests] OUTDIR');
  process.exit(2);
}

const common = {
  bundle: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  logLevel: 'warning',
  logLimit: 20,
  absWorkingDir: here,
  legalComments: 'none',
};

async function buildApp() {
  const assets = path.join(outdir, 'assets');
  // Old hashed bundles would otherwise be embedded too.
  fs.rmSync(assets, { recursive: true, force: true });
  fs.mkdirSync(assets, { recursive: true });
  const result = await esbuild.build({
    ...common,
    entryPoints: { app: 'src/main.tsx' },
    outdir: assets,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    format: 'esm',
    target: 'es2020',
    minify: true,
    sourcemap: false,
    metafile: true,
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => path.basename(p));
  const js = outputs.find((f) => f.endsWith('.js'));
  const css = outputs.find((f) => f.endsWith('.css'));
  if (!js) throw new Error('esbuild produced no .js bundle');
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vigil</title>
<link rel="icon" href="data:,">
${css ? `<link rel="stylesheet" href="/ui/assets/${css}">\n` : ''}<script type="module" src="/ui/assets/${js}"></script>
</head>
<body>
<div id="app"></div>
</body>
</html>
`;
  fs.writeFileSync(path.join(outdir, 'index.html'), html);
  let total = 0;
  for (const f of outputs) {
    const size = fs.statSync(path.join(assets, f)).size;
    total += size;
    console.log(`ui: assets/${f} ${(size / 1024).toFixed(1)} KiB`);
  }
  console.log(`ui: built into ${outdir} (${(total / 1024).toFixed(1)} KiB of assets)`);
}

async function buildTests() {
  fs.rmSync(outdir, { recursive: true, force: true });
  const entries = fs.readdirSync(path.join(here, 'test')).filter((f) => f.endsWith('.test.ts'));
  await esbuild.build({
    ...common,
    entryPoints: entries.map((f) => path.join('test', f)),
    outdir,
    outExtension: { '.js': '.mjs' },
    format: 'esm',
    platform: 'node',
    target: 'node18',
    sourcemap: 'inline',
  });
}

try {
  await (tests ? buildTests() : buildApp());
} catch (e) {
  console.error(`build.mjs: cannot bundle the UI: ${e.message}`);
  process.exit(1);
}
