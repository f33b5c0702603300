/**
 * The dashboard's static shell at `/ui/` (CONTRACT.md): public, as it holds no data; every datum comes from the
 * token-protected API, fetched by the page with `Authorization: Bearer`. Only the files present at start are
 * routes (no wildcard: nothing else under `/ui/` is reachable), each answered with:
 *
 * - a strict Content-Security-Policy: scripts, styles and requests from this origin only, no inline script, no
 *   form submission anywhere (the token form never leaves the page, not even into a URL), no framing;
 * - `Cache-Control: no-cache` with an ETag and Last-Modified, so a browser revalidates each file (a 304 when
 *   unchanged) and never runs a dashboard older than the server it talks to; the files are not fingerprinted.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import { TandemError } from '../../plugin';
import type { ApiPlugin } from '../type-provider';

/** `core/ui`, from this file's place in `core/dist/src/api/routes/`. */
const UI_DIR = resolve(__dirname, '..', '..', '..', '..', 'ui');
/** Hand-written files (the page, its styles, its icon) and the compiled modules (`npm run build`). */
export const DASHBOARD_ROOTS = [resolve(UI_DIR, 'public'), resolve(UI_DIR, 'dist', 'js')];

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

export const dashboardRoutes: ApiPlugin<{ roots?: readonly string[] }> = async (app, options) => {
  const roots = options.roots ?? DASHBOARD_ROOTS;
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    reply.header('cache-control', 'no-cache');
    return payload;
  });
  // Relative module URLs in the page resolve against `/ui/`, so the bare prefix redirects there.
  app.get('/ui', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/', 301));

  const missing = roots.filter((root) => !existsSync(root));
  if (missing.length > 0) {
    // A checkout that was not built: say what to do rather than answer 404s.
    app.get('/ui/', { schema: { hide: true } }, async () => {
      throw new TandemError(
        'NOT_IMPLEMENTED',
        `The dashboard is not built (no ${missing.join(', ')}): run npm run build`,
        {
          status: 501,
        },
      );
    });
    return;
  }
  await app.register(fastifyStatic, {
    root: [...roots],
    prefix: '/ui/',
    wildcard: false,
    index: ['index.html'],
    decorateReply: false,
    cacheControl: false,
    etag: true,
    lastModified: true,
    dotfiles: 'deny',
    serveDotFiles: false,
  });
};
