import replyFrom from '@fastify/reply-from';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { sendError, type App } from '../../core/http/app.js';

/**
 * What the tenant forwards to its control plane (reference §3.8(c)): sign-in, orgs, billing, templates, legal.
 * Everything else under /cp/ — /cp/admin/* above all (an admin-allowlisted session passes the CP's AdminGate),
 * /cp/tenants/*, /cp/workspaces/*, /cp/internal/* — is 404 here and never reaches the CP.
 */
const EXACT_OR_BELOW = ['/cp/orgs', '/cp/templates'];
const BELOW = ['/cp/auth/', '/cp/billing/', '/cp/legal/'];

/** Whether `path` (no query string) may be forwarded. `/cp/orgsabc` is not `/cp/orgs`; dot segments never pass. */
export function forwardable(path: string): boolean {
  let segments: string[];
  try {
    segments = path.split('/').map((s) => decodeURIComponent(s));
  } catch {
    return false; // a broken %-escape
  }
  // `/cp/auth/../admin` and its encoded forms (%2e%2e, %2f) must not climb out of an allowed prefix at the CP.
  if (segments.some((s) => s === '.' || s === '..' || s.includes('/') || s.includes('\\'))) return false;
  return EXACT_OR_BELOW.some((p) => path === p || path.startsWith(`${p}/`)) || BELOW.some((p) => path.startsWith(p));
}

export interface ControlPlaneProxyOptions {
  /** CP_UPSTREAM_URL. */
  upstream: string;
  log: Logger;
}

function hasBody(request: FastifyRequest): boolean {
  const h = request.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}

/**
 * The tenant's `/cp/*` proxy: a root `onRequest` hook registered before TenantGuard, so these requests need no org
 * header (the CP authenticates them itself, by its session cookie) and their bodies are streamed unread, as the CP's
 * edge does in the other direction (src/control-plane/edge). Cookie, Authorization and X-Forwarded-For pass; Host
 * becomes the CP's. An unreachable CP is 502 CONTROL_PLANE_UNAVAILABLE.
 */
export async function registerControlPlaneProxy(app: App, opts: ControlPlaneProxyOptions): Promise<void> {
  const upstream = new URL(opts.upstream);
  const base = upstream.href.replace(/\/+$/, '');
  await app.register(replyFrom, {
    undici: { headersTimeout: 30_000, bodyTimeout: 60_000, keepAliveTimeout: 30_000 },
    disableRequestLogging: true,
    disableCache: true,
  });
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    if (path !== '/cp' && !path.startsWith('/cp/')) return;
    if (!forwardable(path)) return sendError(reply, 'ROUTE_NOT_FOUND');
    if (hasBody(request) && request.method !== 'GET' && request.method !== 'HEAD') request.body = request.raw;
    forward(request, reply, `${base}${request.url}`, upstream.host, opts.log);
    return reply;
  });
}

function forward(request: FastifyRequest, reply: FastifyReply, url: string, host: string, log: Logger): void {
  try {
    void reply.from(url, {
      rewriteRequestHeaders: (req, headers) => ({
        ...headers,
        host,
        // The client as this process trusts it (TRUST_PROXY), after whoever it was behind: client-first.
        'x-forwarded-for': [...(req.ips ?? [req.ip])].reverse().join(', '),
        'x-request-id': req.id,
      }),
      retryDelay: () => null,
      onError: (r, { error }) => {
        log.warn({ err: error, request_id: request.id }, 'cp proxy: control plane unreachable');
        if (r.sent) return;
        sendError(r as FastifyReply, 'CONTROL_PLANE_UNAVAILABLE');
      },
    });
  } catch {
    sendError(reply, 'ROUTE_NOT_FOUND');
  }
}
