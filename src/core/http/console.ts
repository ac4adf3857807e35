import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import { sendError, type App } from './app.js';

/**
 * The web console (issue 14): the single-page app built from `web/` into `dist/web/` (`npm run build:web`, run by
 * `prepare`), served by both services — the CP host serves the account pages, each tenant host its org's console.
 * The API suites never need the build: without it the pages answer 503 naming the command that makes it.
 *
 * Hashed assets live under `/_console/` (a prefix no API route uses) with a year-long immutable cache; the HTML is
 * never cached. Strict CSP: scripts and styles from this origin only, no inline code of any kind.
 */

/** The console's asset prefix (web/vite.config.ts `assetsDir`). */
export const CONSOLE_ASSET_PREFIX = '/_console/';

/** Pages are same-origin only: no inline script or style, no framing, no foreign connections. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Where `npm run build:web` writes (this file is dist/src/core/http/console.js once compiled). */
export const DEFAULT_WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

/** A built asset's file name: one flat segment of safe characters (no separators, no dot segments). */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/;

export interface ConsoleOptions {
  /** The SPA's page paths this service answers with index.html (Fastify route syntax: `/app/*` allowed). */
  pages: string[];
  /** Paths answered with a redirect to a page, e.g. `{ '/': '/app/' }` on a tenant. */
  redirects?: Record<string, string>;
  /** A tenant: its slug, written into the page's `molecule-org-slug` meta tag (the console's org routing header). */
  orgSlug?: string;
  /** The CP: the OpenID Connect provider's name when sign-in with it is configured (`molecule-oidc` meta tag). */
  oidcProvider?: string;
  /** Default: dist/web beside the compiled server. */
  root?: string;
}

function notBuilt(reply: FastifyReply) {
  return sendError(reply, 'CONSOLE_NOT_BUILT');
}

/** The paths the console owns on a tenant; TenantGuard lets browser navigations to them pass without an org header. */
export function isTenantConsolePath(urlPath: string): boolean {
  return urlPath === '/' || urlPath === '/app' || urlPath.startsWith('/app/') || urlPath.startsWith(CONSOLE_ASSET_PREFIX);
}

function escapeAttr(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function registerConsole(app: App, options: ConsoleOptions): void {
  const root = options.root ?? DEFAULT_WEB_ROOT;
  const hidden = { schema: { hide: true } };

  const page = async (_request: unknown, reply: FastifyReply) => {
    let html: string;
    try {
      html = await readFile(path.join(root, 'index.html'), 'utf8');
    } catch {
      return notBuilt(reply);
    }
    // Facts the page needs before its first call, as meta tags (never inline script: the CSP forbids it).
    for (const [name, value] of [['molecule-org-slug', options.orgSlug], ['molecule-oidc', options.oidcProvider]] as const) {
      if (value !== undefined) html = html.replace(`<meta name="${name}" content="" />`, `<meta name="${name}" content="${escapeAttr(value)}" />`);
    }
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CONSOLE_CSP)
      .header('cross-origin-opener-policy', 'same-origin')
      .send(html);
  };
  for (const p of options.pages) app.get(p, hidden, page);
  for (const [from, to] of Object.entries(options.redirects ?? {})) {
    app.get(from, hidden, async (_request, reply) => reply.redirect(to, 302));
  }

  app.get(`${CONSOLE_ASSET_PREFIX}:file`, hidden, async (request, reply) => {
    const file = (request.params as { file: string }).file;
    const type = TYPES[path.extname(file)];
    if (!ASSET_NAME.test(file) || file.includes('..') || !type) return sendError(reply, 'NOT_FOUND');
    let body: Buffer;
    try {
      body = await readFile(path.join(root, CONSOLE_ASSET_PREFIX, file));
    } catch {
      // No build at all → 503; a build without this file → 404.
      try {
        await readFile(path.join(root, 'index.html'));
      } catch {
        return notBuilt(reply);
      }
      return sendError(reply, 'NOT_FOUND');
    }
    return reply
      .header('content-type', type)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('content-security-policy', CONSOLE_CSP)
      .send(body);
  });
}
