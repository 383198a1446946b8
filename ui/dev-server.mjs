// A development server for the UI: serves a build directory under /ui/ (index.html for
// client-side routes) and forwards every other request to a running Vigil, so the UI can
// be changed without relinking the binary.
//   ./build.sh /tmp/ui-dev && node dev-server.mjs /tmp/ui-dev http://127.0.0.1:9460 [port]
// then open http://127.0.0.1:9470/ui/ and rerun build.sh after each change.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const [dir, backend = 'http://127.0.0.1:9460', port = '9470'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node dev-server.mjs BUILDDIR [BACKEND_URL] [PORT]');
  process.exit(2);
}
const root = path.resolve(dir);
const target = new URL(backend);
const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html; charset=utf-8', '.json': 'application/json' };

http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/ui' || url.pathname.startsWith('/ui/')) {
      let file = path.join(root, path.normalize(url.pathname.slice(3)));
      if (!file.startsWith(root) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
        file = path.join(root, 'index.html');
      }
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-cache' });
      fs.createReadStream(file).pipe(res);
      return;
    }
    const fwd = http.request(
      { host: target.hostname, port: target.port || 80, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    fwd.on('error', (e) => {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`cannot reach ${backend}: ${e.message}\n`);
    });
    req.pipe(fwd);
  })
  .listen(Number(port), '127.0.0.1', () => console.log(`ui dev server: http://127.0.0.1:${port}/ui/ -> ${root}, API -> ${backend}`));
