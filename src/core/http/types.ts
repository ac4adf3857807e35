import type { Role, Principal } from '../auth/principal.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least role a credential needs for this route; checked where auth is attached, before the body. */
    minRole?: Role;
    /** True when a workspace-bound credential may not use the route (org-wide collections and settings). */
    orgWide?: boolean;
    /** Reference-compatible `error` string for a body that fails validation; the detail still names the field. */
    validationError?: string;
    /**
     * Control plane: the partner-key scope(s) (any one) that let a partner key use this route; the tier's own credential
     * still works. Absent: partner keys are refused (401). `partnerSelf`: a key may also call it on its own id without
     * the scope (DELETE /admin/partner-keys/:id, the seed's self-revoke).
     */
    partnerScope?: string | readonly string[];
    partnerSelf?: boolean;
    /** Tenant: the handler runs the approval gate itself, so the generic DELETE gate (approvals/gate.ts) skips it. */
    gatedInHandler?: boolean;
  }
  interface FastifyInstance {
    /** Every route registered on the app, in registration order (see createBaseApp). */
    routeCatalog: import('./app.js').RouteCatalogEntry[];
  }
  interface FastifyRequest {
    /** Set by the auth hook of the tier the route is mounted in; null on open routes. */
    principal: Principal | null;
    /** True once a mutation wrote this request's audit event inside its own transaction. */
    auditWritten: boolean;
  }
}

export {};
