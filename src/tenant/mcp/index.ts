import { enforceRateLimit } from '../../core/http/rate-limit.js';
import { DomainError } from '../../core/errors.js';
import { registerMcpHttp } from '../../mcp/http.js';
import { bearerFrom } from '../auth/authenticator.js';
import { describePrincipal } from '../auth/routes/self.js';
import type { DomainRoutes } from '../routes.js';
import { TENANT_VERSION } from '../version.js';

const MINUTE_MS = 60_000;

/**
 * The remote MCP endpoint (src/mcp/http.ts) mounted on this tenant. Outside the tiers: it authenticates itself, from
 * the Authorization header alone — any credential the tenant accepts, each as itself (GET /auth/self) — and ignores
 * cookies, so a member's browser session can never be driven to call tools from another site.
 */
export const mcpRoutes: DomainRoutes = {
  runtime: [
    (app, ctx) =>
      registerMcpHttp(app, {
        version: TENANT_VERSION,
        async authenticate(request) {
          // No bearer → 401 even while lazy bootstrap is open: the tool list is never served to an anonymous caller.
          if (!bearerFrom(request.headers.authorization)) throw new DomainError('ADMIN_AUTH_REQUIRED');
          const principal = await ctx.auth.authenticateAny(request.headers.authorization, undefined);
          request.principal = principal;
          return describePrincipal(ctx, principal);
        },
        async rateLimit(request, reply) {
          await enforceRateLimit(reply, ctx.rateLimiter, `mcp:${request.principal?.actor ?? request.ip}`, ctx.config.MCP_RATE_LIMIT, MINUTE_MS);
        },
      }),
  ],
};
