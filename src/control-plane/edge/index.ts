import replyFrom from '@fastify/reply-from';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { sendError, type App } from '../../core/http/app.js';
import { edgeTargetOf, type EdgeRoutingRule } from './routing.js';
import type { TenantResolver } from './resolver.js';

export { CachingTenantResolver, DatabaseTenantResolver, type TenantLocation, type TenantResolver } from './resolver.js';
export { edgeTargetOf, slugOfHost, type EdgeRoutingRule, type EdgeTarget } from './routing.js';

export interface EdgeOptions {
  resolver: TenantResolver;
  rule: EdgeRoutingRule;
  log: Logger;
}

/**
 * The edge (DESIGN.md §2): a root `onRequest` hook, so it runs before any CP route, its auth tiers and its body
 * parser. A request it takes is proxied by @fastify/reply-from (undici) with its body still unread: the client's
 * stream is piped to the tenant and the tenant's response (SSE included) is piped back as it arrives.
 *
 * Headers pass unchanged (Authorization, Cookie, X-Molecule-Org-* — a host-routed request without any org header
 * gets `X-Molecule-Org-Slug: <slug>` — Host as well, so a tenant's same-origin check
 * sees the host the browser used), hop-by-hop headers are dropped, and X-Forwarded-For/Proto/Host are set from what
 * this process itself trusts (TRUST_PROXY): a client cannot forge them through the edge.
 */
export async function registerEdge(app: App, opts: EdgeOptions): Promise<void> {
  await app.register(replyFrom, {
    // One keep-alive connection pool per tenant origin. Streams have no body timeout: an SSE stream is idle between
    // events by design, and a client that goes away closes its upstream request with it.
    undici: { bodyTimeout: 0, headersTimeout: 300_000, keepAliveTimeout: 30_000 },
    disableRequestLogging: true,
    // Its URL cache would keep recent request URLs (query strings included) in memory for nothing: each is new.
    disableCache: true,
  });

  // Responses being proxied right now. Shutdown cuts them: a tenant's SSE stream never ends by itself, and the
  // server's close would otherwise wait on it for ever.
  const open = new Set<FastifyReply>();
  app.addHook('preClose', async () => {
    for (const reply of open) reply.raw.destroy();
  });

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    const target = edgeTargetOf(
      { host: request.headers.host, slugHeader: request.headers['x-molecule-org-slug'], path, cpHasRoute: request.routeOptions.url !== undefined },
      opts.rule,
    );
    if (target.kind === 'cp') return;
    const location = await opts.resolver.resolve(target.slug);
    if (location.state === 'unknown') return sendError(reply, 'ORG_NOT_FOUND');
    if (location.state === 'not_ready') {
      reply.header('retry-after', String(location.retryAfterSeconds));
      return sendError(reply, 'TENANT_NOT_READY', undefined, { retry_after_seconds: location.retryAfterSeconds });
    }
    let upstream: URL;
    try {
      upstream = new URL(location.url);
      if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:') throw new Error(`unsupported scheme ${upstream.protocol}`);
    } catch (err) {
      opts.log.error({ err, slug: target.slug }, 'edge: the tenant URL on record is not an http(s) URL');
      return sendError(reply, 'TENANT_UNREACHABLE');
    }
    open.add(reply);
    reply.raw.once('close', () => open.delete(reply));
    proxy(request, reply, upstream, target.slug, target.by, opts.log, () => opts.resolver.forget?.(target.slug));
    return reply;
  });
}

function hasBody(request: FastifyRequest): boolean {
  const h = request.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}

function proxy(request: FastifyRequest, reply: FastifyReply, upstream: URL, slug: string, by: 'host' | 'header', log: Logger, forget: () => void): void {
  // reply-from sends `request.body`; the parser never ran, so hand it the unread request stream itself.
  if (hasBody(request) && request.method !== 'GET' && request.method !== 'HEAD') request.body = request.raw;
  const base = upstream.href.replace(/\/$/, '');
  try {
    forward(request, reply, `${base}${request.url}`, slug, by, log, forget);
  } catch {
    // reply-from refuses a path with `..` segments or broken %-escapes before sending anything.
    sendError(reply, 'VALIDATION_FAILED', 'malformed URL: the path has a `..` segment or an invalid %-escape');
  }
}

function forward(request: FastifyRequest, reply: FastifyReply, url: string, slug: string, by: 'host' | 'header', log: Logger, forget: () => void): void {
  void reply.from(url, {
    rewriteRequestHeaders: (req, headers) => ({
      ...headers,
      host: req.headers.host ?? headers.host,
      // request.ips: the peer, then each trusted proxy's client, nearest first; the header lists them client-first.
      'x-forwarded-for': [...(req.ips ?? [req.ip])].reverse().join(', '),
      'x-forwarded-proto': req.protocol,
      'x-forwarded-host': req.host,
      'x-request-id': req.id,
      // The host named the org (`<slug>.<domain>`): a request that carries no org header of its own gets the slug, as
      // the reference edge injects the org (§3.8a), so a browser or a curl on the tenant host needs no routing header.
      // One the client sent is passed unchanged: the tenant's guard judges it (a wrong one is 404 there).
      ...(by === 'host' && headers['x-molecule-org-id'] === undefined && headers['x-molecule-org-slug'] === undefined ? { 'x-molecule-org-slug': slug } : {}),
    }),
    // Never retry: a tenant's own 503 (and anything non-idempotent) reaches the client as the tenant sent it.
    retryDelay: () => null,
    onError: (r, { error }) => {
      log.warn({ err: error, slug, request_id: request.id }, 'edge: tenant unreachable');
      forget();
      if (r.sent) return;
      sendError(r as FastifyReply, 'TENANT_UNREACHABLE');
    },
  });
}
