import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Principal } from '../../core/auth/principal.js';
import { claimedType, constantTimeEquals, displayPrefixOf } from '../../core/credentials/format.js';
import { isDatastoreOutage } from '../../core/db/index.js';
import { DatastoreUnavailableError, DomainError } from '../../core/errors.js';
import { readCookie } from '../../core/http/cookies.js';
import type { ControlPlaneConfig } from '../config.js';
import type { ControlPlaneSchema } from '../db/schema.js';
import type { TenantAdminTokens } from '../provisioning/admin-tokens.js';
import { findSession, SESSION_COOKIE, type SessionUser } from './sessions.js';

/** Tenant credential classes: each is refused here by name, so a misdirected client learns why (DESIGN.md §4). */
const TENANT_CLASSES = new Set(['orgKey', 'workspaceToken', 'tenantAdminToken']);

function bearerOf(authorization: string | undefined): string | null {
  if (!authorization) return null;
  const m = /^Bearer\s+(\S+)\s*$/.exec(authorization);
  return m ? m[1]! : '';
}

export interface SessionPrincipal extends Principal {
  class: 'session';
  userId: string;
  session: SessionUser;
}

/**
 * The control plane's credential chain. Sessions (the `mcp_session` cookie) reach the owner surface; the CP admin
 * bearer reaches `/admin/*` and nothing else; tenant credentials (org API keys, workspace tokens, tenant admin
 * tokens) reach nothing. A datastore outage is 503, never 401.
 */
export class ControlPlaneAuthenticator {
  constructor(
    private readonly db: Kysely<ControlPlaneSchema>,
    private readonly config: ControlPlaneConfig,
  ) {}

  /** The session behind the cookie, or null. */
  async sessionOf(request: FastifyRequest): Promise<SessionPrincipal | null> {
    const value = readCookie(request.headers.cookie, SESSION_COOKIE);
    if (!value) return null;
    let session: SessionUser | null;
    try {
      session = await findSession(this.db, value);
    } catch (err) {
      if (isDatastoreOutage(err)) throw new DatastoreUnavailableError(err);
      throw err;
    }
    if (!session) return null;
    return {
      class: 'session',
      credentialId: session.sessionId,
      displayPrefix: null,
      actor: `session:${session.userId}`,
      role: 'reader',
      workspaceIds: null,
      orgId: null,
      userId: session.userId,
      session,
    };
  }

  async authenticateSession(request: FastifyRequest): Promise<SessionPrincipal> {
    const principal = await this.sessionOf(request);
    if (principal) return principal;
    this.refuseTenantCredential(request.headers.authorization);
    throw new DomainError('SESSION_REQUIRED');
  }

  authenticateAdmin(request: FastifyRequest): Principal {
    const expected = this.config.CP_ADMIN_API_TOKEN;
    const bearer = bearerOf(request.headers.authorization);
    if (bearer === null) throw new DomainError('ADMIN_AUTH_REQUIRED');
    this.refuseTenantCredential(request.headers.authorization);
    // Unset token: the routes stay mounted and answer 401 to everyone (reference §3.2), after the same work.
    const ok = constantTimeEquals(bearer, expected ?? bearer + '\0');
    if (!ok || !expected) throw new DomainError('INVALID_ADMIN_AUTH');
    return { class: 'cp-admin', credentialId: null, displayPrefix: null, actor: 'cp-admin', role: 'admin', workspaceIds: null, orgId: null };
  }

  /**
   * The tenant tier (/cp/tenants/*, reference §2.6): `Authorization: Bearer <tenant admin token>`. The token names its
   * org; an `X-Molecule-Org-Id` that names another org is refused like an unknown token (401, nothing learned).
   */
  async authenticateTenant(request: FastifyRequest, adminTokens: TenantAdminTokens): Promise<Principal> {
    const bearer = bearerOf(request.headers.authorization);
    if (bearer === null) throw new DomainError('ADMIN_AUTH_REQUIRED', 'tenant admin token required: Authorization: Bearer <ADMIN_TOKEN>');
    return this.tenantPrincipal(bearer, request.headers['x-molecule-org-id'], adminTokens);
  }

  /**
   * The provisioning tier (reference §2.5, §3.3): the provision shared secret as the bearer (constant time) AND the
   * calling tenant's admin token in `X-Molecule-Admin-Token`, which names the org every operation is confined to.
   */
  async authenticateProvision(request: FastifyRequest, adminTokens: TenantAdminTokens): Promise<Principal> {
    const expected = this.config.PROVISION_SHARED_SECRET;
    const bearer = bearerOf(request.headers.authorization);
    if (bearer === null) throw new DomainError('ADMIN_AUTH_REQUIRED', 'provision secret required: Authorization: Bearer <PROVISION_SHARED_SECRET>');
    if (!expected || !constantTimeEquals(bearer, expected)) throw new DomainError('INVALID_ADMIN_AUTH', 'invalid provision secret');
    const header = request.headers['x-molecule-admin-token'];
    const token = typeof header === 'string' ? header.trim() : undefined;
    if (!token) throw new DomainError('ADMIN_AUTH_REQUIRED', "the calling tenant's admin token is required: X-Molecule-Admin-Token");
    return this.tenantPrincipal(token, request.headers['x-molecule-org-id'], adminTokens);
  }

  private async tenantPrincipal(token: string, orgHeader: string | string[] | undefined, adminTokens: TenantAdminTokens): Promise<Principal> {
    let owner: { orgId: string; slug: string } | null;
    try {
      owner = await adminTokens.orgOf(token);
    } catch (err) {
      if (isDatastoreOutage(err)) throw new DatastoreUnavailableError();
      throw err;
    }
    const claimedOrg = typeof orgHeader === 'string' ? orgHeader.trim().toLowerCase() : undefined;
    if (!owner || (claimedOrg !== undefined && claimedOrg !== owner.orgId)) throw new DomainError('INVALID_ADMIN_AUTH', 'invalid tenant admin token');
    return {
      class: 'tenant-admin-token',
      credentialId: null,
      displayPrefix: displayPrefixOf('tenantAdminToken', token),
      actor: `tenant-admin-token:${owner.slug}`,
      role: 'admin',
      workspaceIds: null,
      orgId: owner.orgId,
    };
  }

  private refuseTenantCredential(authorization: string | undefined) {
    const bearer = bearerOf(authorization);
    const claimed = bearer ? claimedType(bearer) : null;
    if (claimed && TENANT_CLASSES.has(claimed)) {
      throw new DomainError(
        'TENANT_CREDENTIAL_REJECTED',
        'tenant credentials (org API keys, workspace tokens, tenant admin tokens) are not accepted by the control plane; use them at your tenant',
      );
    }
  }
}
