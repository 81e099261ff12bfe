/**
 * The console's page (issue 12): files of the built front end (`CONSOLE_DIST_DIR`, built by Vite) served
 * under `/console/`: `index.html` at `/console/` (and at any `/console/…` path without a file extension,
 * so the page's own routes reload), assets under `/console/assets/…`. Every answer carries
 * `Content-Security-Policy: default-src 'self'` (nothing from elsewhere runs: clusters are often
 * air-gapped anyway). Assets have content-hashed names: cached for a year, immutable; index.html is
 * revalidated every time. Paths are decoded once, checked segment by segment (no `..`, no `\`, no NUL,
 * no dot-files), then resolved and checked again to be inside the folder. Without the folder, a
 * placeholder page says how to build it (the API works regardless).
 */
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONSOLE_ASSETS_PATH, CONSOLE_PAGE_PATH } from './types.js';

/** The built front end: `<package root>/dist/console` (this file is `dist/src/console/static.js`). */
export const CONSOLE_DIST_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

export const CONSOLE_CSP = "default-src 'self'";

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

const SECURITY_HEADERS = {
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
} as const;

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

export const PLACEHOLDER_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Tether console</title></head>
<body><h1>Tether console</h1>
<p>The console's page is not built: there is no dist/console/index.html next to this Tether.
Build it with <code>npm run build</code> in Tether's source (it builds the front end into dist/console/), then reload.</p>
<p>The console's JSON API works without it, under <code>/api/v1/console/</code>.</p>
</body></html>
`;

export interface StaticOptions {
  /** Default `CONSOLE_DIST_DIR`. */
  readonly dir?: string;
}

/** A request path under `/console/` → the file to serve (relative, `/`-separated), or undefined for a 404. */
export function staticTarget(path: string): { file: string; asset: boolean } | 'redirect' | undefined {
  if (path === '/console') return 'redirect';
  if (!path.startsWith(CONSOLE_PAGE_PATH)) return undefined;
  let rest: string;
  try {
    rest = decodeURIComponent(path.slice(CONSOLE_PAGE_PATH.length));
  } catch {
    return undefined;
  }
  if (rest === '' || rest === 'index.html') return { file: 'index.html', asset: false };
  const segments = rest.split('/');
  for (const s of segments) if (s === '' || s.startsWith('.') || s.includes('\\') || s.includes('\0')) return undefined;
  if (path.startsWith(CONSOLE_ASSETS_PATH)) return { file: segments.join('/'), asset: true };
  // The page's own routes (no extension): the page; any other file at the top (favicon.svg...): itself.
  const last = segments[segments.length - 1] as string;
  return extname(last) === '' ? { file: 'index.html', asset: false } : segments.length === 1 ? { file: last, asset: false } : undefined;
}

export interface StaticServer {
  /** Answers a GET/HEAD under `/console`; false when the path is not the console's. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>;
}

export function createStaticServer(opts: StaticOptions = {}): StaticServer {
  const root = resolve(opts.dir ?? CONSOLE_DIST_DIR);

  const answer = (req: IncomingMessage, res: ServerResponse, status: number, body: Buffer | string, type: string, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  return {
    async handle(req, res, path) {
      const target = staticTarget(path);
      if (target === undefined) {
        if (path !== '/console' && !path.startsWith(CONSOLE_PAGE_PATH)) return false;
        answer(req, res, 404, 'not found\n', 'text/plain; charset=utf-8', { 'Cache-Control': 'no-store' });
        return true;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        answer(req, res, 405, `method ${req.method} not allowed on the console's page\n`, 'text/plain; charset=utf-8', { Allow: 'GET, HEAD', 'Cache-Control': 'no-store' });
        return true;
      }
      if (target === 'redirect') {
        answer(req, res, 308, '', 'text/plain; charset=utf-8', { Location: CONSOLE_PAGE_PATH, 'Cache-Control': 'no-store' });
        return true;
      }
      const full = resolve(join(root, target.file));
      if (full !== root && !full.startsWith(root + sep)) {
        answer(req, res, 404, 'not found\n', 'text/plain; charset=utf-8', { 'Cache-Control': 'no-store' });
        return true;
      }
      try {
        const st = await stat(full);
        if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
        const body = await readFile(full);
        const type = TYPES[extname(full).toLowerCase()] ?? 'application/octet-stream';
        answer(req, res, 200, body, type, { 'Cache-Control': target.asset ? IMMUTABLE : REVALIDATE, 'Last-Modified': st.mtime.toUTCString() });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
        if (target.file === 'index.html') answer(req, res, 200, PLACEHOLDER_HTML, TYPES['.html'] as string, { 'Cache-Control': REVALIDATE });
        else answer(req, res, 404, 'not found\n', 'text/plain; charset=utf-8', { 'Cache-Control': 'no-store' });
      }
      return true;
    },
  };
}
