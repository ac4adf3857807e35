import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Principal } from '../../core/auth/principal.js';
import { claimedType, constantTimeEquals, hashCredential, isWellFormed } from '../../core/credentials/format.js';
import { UsageTracker } from '../../core/credentials/usage.js';
import { LoopTicks } from '../../core/liveness.js';
import { DatastoreUnavailableError, DomainError } from '../../core/errors.js';
import { isUuid } from '../../core/ids.js';
import type { TenantSchema } from '../db/schema.js';
import { anyOrgTokenEverMinted, findLiveOrgTokenByHash, touchOrgTokens } from '../org-tokens/store.js';
import { findLiveWorkspaceTokenByHash, touchWorkspaceTokens } from '../workspace-tokens/store.js';
import type { SessionVerifier } from './session-verifier.js';

export interface AuthenticatorDeps {
  db: Kysely<TenantSchema>;
  log: Logger;
  adminToken: string | undefined;
  orgId: string | undefined;
  sessionVerifier: SessionVerifier | null;
  /** Background-loop ticks (GET /admin/liveness). */
  ticks?: LoopTicks;
}

/** `Authorization: Bearer <x>`: the scheme is case-sensitive and the rest trimmed, as in the reference (§2.2). */
export function bearerFrom(header: string | undefined): string | null {
  if (!header || !header.startsWith('Bearer ')) return null;
  const token = header.slice(7).trim();
  return token.length > 0 ? token : null;
}

/** Runs a datastore call; any failure is an outage (503), never an authentication failure (401). */
async function datastore<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new DatastoreUnavailableError(err);
  }
}

/**
 * The tenant's authentication chain (DESIGN.md §4). Every path ends in a principal or one collapsed error; no
 * positive answer is cached, so a revoke is effective on the next request on every replica.
 */
export class TenantAuthenticator {
  readonly orgTokenUsage: UsageTracker;
  readonly workspaceTokenUsage: UsageTracker;
  /** Lazy bootstrap closes for good the moment any org key exists; it never reopens (monotonic, replica-safe). */
  private bootstrapClosed: boolean;

  constructor(private readonly deps: AuthenticatorDeps) {
    const ticks = deps.ticks ?? new LoopTicks();
    this.orgTokenUsage = new UsageTracker((uses) => touchOrgTokens(deps.db, uses), deps.log, 1000, ticks.register('org_token_last_used'));
    this.workspaceTokenUsage = new UsageTracker((uses) => touchWorkspaceTokens(deps.db, uses), deps.log, 1000, ticks.register('workspace_token_last_used'));
    this.bootstrapClosed = deps.adminToken !== undefined;
  }

  async close(): Promise<void> {
    await Promise.all([this.orgTokenUsage.close(), this.workspaceTokenUsage.close()]);
  }

  /** Tier 0: open only while no ADMIN_TOKEN is configured and no org key has ever been minted. */
  async bootstrapOpen(): Promise<boolean> {
    if (this.bootstrapClosed) return false;
    if (await datastore(() => anyOrgTokenEverMinted(this.deps.db))) this.bootstrapClosed = true;
    return !this.bootstrapClosed;
  }

  private bootstrapPrincipal(): Principal {
    return { class: 'bootstrap', credentialId: null, displayPrefix: null, actor: 'bootstrap', role: 'admin', workspaceIds: null, orgId: this.deps.orgId ?? null };
  }

  private adminTokenPrincipal(): Principal {
    return { class: 'admin-token', credentialId: null, displayPrefix: null, actor: 'admin-token', role: 'admin', workspaceIds: null, orgId: this.deps.orgId ?? null };
  }

  private async sessionPrincipal(cookie: string | undefined): Promise<Principal | null> {
    if (!this.deps.sessionVerifier) return null;
    const session = await this.deps.sessionVerifier.verify(cookie);
    if (!session) return null;
    return {
      class: 'session',
      credentialId: null,
      displayPrefix: null,
      actor: `session:${session.userId}`,
      // A verified member of the org is a full tenant admin, as in the reference (§2.3 EO).
      role: 'admin',
      workspaceIds: null,
      orgId: this.deps.orgId ?? null,
    };
  }

  /**
   * Tier 2a. Malformed or checksum-failing keys are rejected offline, with no query. A key whose row names another
   * org than the configured one is this tenant's no more than an unknown key is (a database restored from, or shared
   * with, another org's tenant), and gets the same answer. A row with no org (minted while the tenant ran without
   * MOLECULE_ORG_ID) was minted here and stays valid.
   */
  private async orgKeyPrincipal(bearer: string): Promise<Principal | null> {
    if (!isWellFormed('orgKey', bearer)) return null;
    const row = await datastore(() => findLiveOrgTokenByHash(this.deps.db, hashCredential(bearer)));
    if (!row) return null;
    if (this.deps.orgId !== undefined && row.org_id !== null && row.org_id.toLowerCase() !== this.deps.orgId) return null;
    this.orgTokenUsage.markUsed(row.id);
    return {
      class: 'org-token',
      credentialId: row.id,
      displayPrefix: row.prefix,
      actor: `org-token:${row.prefix}`,
      role: row.role,
      workspaceIds: row.workspace_ids,
      orgId: row.org_id ?? this.deps.orgId ?? null,
      ...(row.approval_required ? { approvalRequired: true } : {}),
    };
  }

  private async workspaceTokenPrincipal(bearer: string): Promise<Principal | null> {
    if (!isWellFormed('workspaceToken', bearer)) return null;
    const row = await datastore(() => findLiveWorkspaceTokenByHash(this.deps.db, hashCredential(bearer)));
    if (!row) return null;
    this.workspaceTokenUsage.markUsed(row.id);
    return {
      class: 'workspace-token',
      credentialId: row.id,
      displayPrefix: row.prefix,
      actor: `workspace-token:${row.prefix}`,
      role: 'editor',
      workspaceIds: [row.workspace_id],
      orgId: this.deps.orgId ?? null,
    };
  }

  /** Admin routes: tiers 0, 1, 2a, 2b, 3 in that order. */
  async authenticateAdmin(authorization: string | undefined, cookie: string | undefined): Promise<Principal> {
    const bearer = bearerFrom(authorization);
    const session = await this.sessionPrincipal(cookie);
    if (session) return session;
    if (!bearer) {
      if (await this.bootstrapOpen()) return this.bootstrapPrincipal();
      throw new DomainError('ADMIN_AUTH_REQUIRED');
    }
    const type = claimedType(bearer);
    if (type === 'orgKey') {
      const p = await this.orgKeyPrincipal(bearer);
      if (p) return p;
    }
    if (this.deps.adminToken !== undefined && constantTimeEquals(bearer, this.deps.adminToken)) return this.adminTokenPrincipal();
    if (this.deps.adminToken === undefined && type === 'workspaceToken') {
      // Tier 3, deprecated: without ADMIN_TOKEN the reference lets any workspace token act as admin (ADR-001).
      const p = await this.workspaceTokenPrincipal(bearer);
      if (p) return { ...p, role: 'admin', workspaceIds: null, deprecated: true };
    }
    throw new DomainError('INVALID_ADMIN_AUTH');
  }

  /**
   * Any credential this tenant accepts, as itself (GET /auth/self, the MCP endpoint): a workspace token is its own
   * workspace's editor here even where tier 3 would let it act as admin, so a client that scopes itself by this answer
   * never assumes more than every route grants; everything else goes through the admin chain.
   */
  async authenticateAny(authorization: string | undefined, cookie: string | undefined): Promise<Principal> {
    const bearer = bearerFrom(authorization);
    if (bearer && claimedType(bearer) === 'workspaceToken') {
      const p = await this.workspaceTokenPrincipal(bearer);
      if (p) return p;
    }
    return this.authenticateAdmin(authorization, cookie);
  }

  /**
   * Workspace routes: the admin chain (minus tier 3) or the workspace's own token. A credential confined to other
   * workspaces gets 404 — out of scope is not found.
   */
  async authenticateWorkspace(workspaceId: string, authorization: string | undefined, cookie: string | undefined): Promise<Principal> {
    const bearer = bearerFrom(authorization);
    if (!bearer) {
      const session = await this.sessionPrincipal(cookie);
      if (session) return session;
      if (await this.bootstrapOpen()) return this.bootstrapPrincipal();
      throw new DomainError('WORKSPACE_AUTH_REQUIRED');
    }
    const type = claimedType(bearer);
    if (type === 'orgKey') {
      const p = await this.orgKeyPrincipal(bearer);
      if (p) {
        if (p.workspaceIds !== null && isUuid(workspaceId) && !p.workspaceIds.includes(workspaceId.toLowerCase())) {
          throw new DomainError('WORKSPACE_NOT_FOUND');
        }
        return p;
      }
    }
    if (this.deps.adminToken !== undefined && constantTimeEquals(bearer, this.deps.adminToken)) return this.adminTokenPrincipal();
    if (type === 'workspaceToken') {
      const p = await this.workspaceTokenPrincipal(bearer);
      if (p && p.workspaceIds?.[0] === workspaceId.toLowerCase()) return p;
    }
    throw new DomainError('INVALID_WORKSPACE_AUTH');
  }
}
