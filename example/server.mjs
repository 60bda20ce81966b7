#!/usr/bin/env node
// The example's production path: serves the page and the media:collect build.
//
//   npx gulp media:collect            # writes example/dist/media (from the repository root)
//   node example/server.mjs           # http://127.0.0.1:8080/ (--port N, --port 0 for any free port)
//
// The page is public/index.html with every "/media/..." URL looked up in the
// build's manifest.json (createMediaUrl): the fingerprinted URL, and an SRI
// integrity attribute on stylesheets and scripts. /media/ serves collectRoot:
// fingerprinted names with "Cache-Control: public, max-age=31536000, immutable",
// other names with "no-cache", and the .br or .gz file beside a file when the
// browser accepts that encoding. Nothing else: no links followed, no dotfiles
// (the tool's records), nothing outside collectRoot.
import { lstatSync, readFileSync, createReadStream } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createMediaUrl } from 'gulp-app-media';

const here = path.dirname(fileURLToPath(import.meta.url));
const config = JSON.parse(readFileSync(path.join(here, 'app-media.config.json'), 'utf8'));
const root = path.resolve(here, config.collectRoot);
const mediaUrl = config.mediaUrl ?? '/media/';
const { values } = parseArgs({
  options: { port: { type: 'string', default: '8080' }, host: { type: 'string', default: '127.0.0.1' } },
});

const TYPES = {
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  json: 'application/json',
  map: 'application/json',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  woff2: 'font/woff2',
  woff: 'font/woff',
  html: 'text/html; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
};
/** `site.3f2a1b9c0d.css`: a name whose content never changes (hashLength is 10 by default, 8 to 64). */
const FINGERPRINTED = /\.[0-9a-f]{8,64}(\.[^./]+)?$/;

/** The page, its /media/ URLs taken from the manifest as it is now (a new build shows on reload). */
function page() {
  const media = createMediaUrl({ manifest: path.join(root, 'manifest.json'), mediaUrl });
  const html = readFileSync(path.join(here, 'public', 'index.html'), 'utf8');
  const prefix = mediaUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return html.replace(new RegExp(`(href|src)="${prefix}([^"]+)"`, 'g'), (_, attribute, name) => {
    const asset = media.asset(name);
    const checked = /\.(css|js)$/.test(name) ? ` integrity="${asset.integrity}"` : '';
    return `${attribute}="${asset.url}"${checked}`;
  });
}

/** The file for a request path under mediaUrl: a plain name inside collectRoot, a regular file, or undefined. */
function fileFor(requested) {
  const parts = requested.split('/');
  if (
    parts.some(
      (part) =>
        part === '' ||
        part === '.' ||
        part === '..' ||
        part.startsWith('.') ||
        part.includes('\\') ||
        part.includes('\0'),
    )
  )
    return undefined;
  const file = path.join(root, ...parts);
  const stat = lstatSync(file, { throwIfNoEntry: false });
  return stat?.isFile() ? { file, stat } : undefined;
}

function send(request, response, status, headers, body) {
  response.writeHead(status, headers);
  response.end(request.method === 'HEAD' ? undefined : body);
}

const server = http.createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (request.method !== 'GET' && request.method !== 'HEAD')
    return send(request, response, 405, { allow: 'GET, HEAD' }, '');
  if (url.pathname === '/' || url.pathname === '/index.html') {
    try {
      return send(request, response, 200, { 'content-type': TYPES.html, 'cache-control': 'no-cache' }, page());
    } catch (error) {
      return send(
        request,
        response,
        500,
        { 'content-type': TYPES.txt },
        `${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ''}`,
      );
    }
  }
  if (!url.pathname.startsWith(mediaUrl))
    return send(request, response, 404, { 'content-type': TYPES.txt }, 'not found\n');
  let requested;
  try {
    requested = decodeURIComponent(url.pathname.slice(mediaUrl.length));
  } catch {
    return send(request, response, 400, { 'content-type': TYPES.txt }, 'bad path\n');
  }
  const found = fileFor(requested);
  if (!found) return send(request, response, 404, { 'content-type': TYPES.txt }, 'not found\n');
  const extension = path.extname(found.file).slice(1).toLowerCase();
  const headers = {
    'content-type': TYPES[extension] ?? 'application/octet-stream',
    'cache-control': FINGERPRINTED.test(requested) ? 'public, max-age=31536000, immutable' : 'no-cache',
    vary: 'Accept-Encoding',
    'x-content-type-options': 'nosniff',
  };
  const accepts = (request.headers['accept-encoding'] ?? '').split(',').map((part) => part.split(';')[0].trim());
  let { file, stat } = found;
  for (const [encoding, suffix] of [
    ['br', '.br'],
    ['gzip', '.gz'],
  ]) {
    if (!accepts.includes(encoding)) continue;
    const variant = fileFor(`${requested}${suffix}`);
    if (!variant) continue;
    ({ file, stat } = variant);
    headers['content-encoding'] = encoding;
    break;
  }
  headers['content-length'] = String(stat.size);
  response.writeHead(200, headers);
  if (request.method === 'HEAD') return response.end();
  createReadStream(file).pipe(response);
});

server.listen(Number(values.port), values.host, () => {
  const { port } = server.address();
  console.log(
    `serving ${path.relative(process.cwd(), root) || '.'} at http://${values.host}:${port}${mediaUrl} and the page at http://${values.host}:${port}/`,
  );
});
