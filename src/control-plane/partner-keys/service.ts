import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import type { Principal } from '../../core/auth/principal.js';
import { mintCredential } from '../../core/credentials/format.js';
import { DomainError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { ControlPlaneContext } from '../context.js';
import { isPartnerPrincipal } from './auth.js';
import { DEFAULT_RATE_LIMIT, type MintPartnerKeyRequest, type PartnerKey } from './schemas.js';
import { grants, isPartnerScope, PARTNER_SCOPES, type PartnerScope } from './scopes.js';
import { findPartnerKey, insertPartnerKey, revokePartnerKey, type PartnerKeyListRow } from './store.js';

const DAY_MS = 86_400_000;
const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export function presentPartnerKey(row: PartnerKeyListRow): PartnerKey {
  return {
    id: row.id,
    name: row.name,
    key_prefix: row.key_prefix,
    partner_id: row.partner_id,
    org_id: row.org_id,
    scopes: [...row.scopes],
    rate_limit: row.rate_limit,
    created_by: row.created_by,
    created_at: iso(row.created_at)!,
    expires_at: iso(row.expires_at),
    revoked_at: iso(row.revoked_at),
    last_used_at: iso(row.last_used_at),
  };
}

/** Unknown scopes → 400 listing the valid ones; duplicates (and an alias beside its scope) are kept once. */
function validScopes(requested: readonly string[]): PartnerScope[] {
  const unknown = requested.filter((s) => !isPartnerScope(s));
  if (unknown.length > 0) {
    const message = `unknown scope${unknown.length > 1 ? 's' : ''} ${unknown.map((s) => JSON.stringify(s)).join(', ')}: scopes must be among ${PARTNER_SCOPES.join(', ')}`;
    throw new DomainError('VALIDATION_FAILED', message, { detail: message, fields: ['scopes'], field: 'scopes', valid_scopes: [...PARTNER_SCOPES] });
  }
  return [...new Set(requested as PartnerScope[])];
}

interface ResolvedMint {
  partnerId: string;
  orgId: string | null;
  scopes: PartnerScope[];
  expiresAt: Date | null;
  rateLimit: number;
}

/**
 * What a mint may make. The CP admin: any partner (named in the body), any of that partner's orgs. A partner key with
 * `admin:keys`: only for its own partner, and never wider than itself — its scopes, its org binding, its expiry, its
 * rate limit (DESIGN.md §4: "a key never mints a key stronger or wider than itself").
 */
async function resolveMint(ctx: ControlPlaneContext, minter: Principal, body: MintPartnerKeyRequest): Promise<ResolvedMint> {
  const scopes = validScopes(body.scopes);
  const requestedExpiry = body.expires_in_days !== undefined ? new Date(Date.now() + body.expires_in_days * DAY_MS) : null;
  const requestedOrg = body.org_id ?? null;
  if (!isPartnerPrincipal(minter)) {
    if (body.partner_id === undefined) {
      const message = 'partner_id is required: name the partner this key acts for';
      throw new DomainError('VALIDATION_FAILED', message, { detail: message, fields: ['partner_id'], field: 'partner_id' });
    }
    if (requestedOrg !== null) await requireOrgOfPartner(ctx, body.partner_id, requestedOrg);
    return { partnerId: body.partner_id, orgId: requestedOrg, scopes, expiresAt: requestedExpiry, rateLimit: body.rate_limit ?? DEFAULT_RATE_LIMIT };
  }
  const tooWide = (message: string, context: Record<string, unknown> = {}) => new DomainError('KEY_TOO_WIDE', message, context);
  if (body.partner_id !== undefined && body.partner_id !== minter.partnerId) throw tooWide(`a partner key mints keys only for its own partner (${minter.partnerId})`, { field: 'partner_id' });
  const notHeld = scopes.filter((s) => !grants(minter.scopes, s));
  if (notHeld.length > 0) throw tooWide(`this key does not hold ${notHeld.join(', ')}, so it cannot grant ${notHeld.length > 1 ? 'them' : 'it'}`, { field: 'scopes', scopes: notHeld });
  if (minter.orgId !== null && requestedOrg !== minter.orgId) throw tooWide(`this key is bound to org ${minter.orgId}: the keys it mints must be bound to it too`, { field: 'org_id', org_id: minter.orgId });
  if (requestedOrg !== null) await requireOrgOfPartner(ctx, minter.partnerId, requestedOrg);
  let expiresAt = requestedExpiry;
  if (minter.expiresAt !== null) {
    if (expiresAt === null) expiresAt = minter.expiresAt;
    else if (expiresAt > minter.expiresAt) throw tooWide(`this key expires at ${minter.expiresAt.toISOString()}: the keys it mints cannot outlive it`, { field: 'expires_in_days', expires_at: minter.expiresAt.toISOString() });
  }
  const rateLimit = body.rate_limit ?? Math.min(DEFAULT_RATE_LIMIT, minter.rateLimit);
  if (rateLimit > minter.rateLimit) throw tooWide(`this key is limited to ${minter.rateLimit} requests per minute: the keys it mints cannot have more`, { field: 'rate_limit', rate_limit: minter.rateLimit });
  return { partnerId: minter.partnerId, orgId: requestedOrg, scopes, expiresAt, rateLimit };
}

async function requireOrgOfPartner(ctx: ControlPlaneContext, partnerId: string, orgId: string): Promise<void> {
  const org = await ctx.db.selectFrom('organizations').select('id').where('id', '=', orgId).where('partner_id', '=', partnerId).executeTakeFirst();
  if (!org) throw new DomainError('ORG_NOT_FOUND', `org ${orgId} is not one of partner ${partnerId}'s orgs`);
}

/** Mints a key in one transaction with the request's audit event; the plaintext is returned once and never stored. */
export async function mintPartnerKey(ctx: ControlPlaneContext, minter: Principal, body: MintPartnerKeyRequest, audit: AuditEventInput): Promise<PartnerKey & { key: string }> {
  const resolved = await resolveMint(ctx, minter, body);
  const minted = mintCredential('partnerKey');
  const row = await ctx.db.transaction().execute(async (tx) => {
    const inserted = await insertPartnerKey(tx, {
      id: newId('partnerKey'),
      name: body.name,
      key_hash: minted.hash,
      key_prefix: minted.displayPrefix,
      partner_id: resolved.partnerId,
      org_id: resolved.orgId,
      // Stored as given (aliases kept): the key lists what its minter asked for; checks fold aliases.
      scopes: resolved.scopes,
      rate_limit: resolved.rateLimit,
      created_by: minter.actor,
      expires_at: resolved.expiresAt,
    });
    await appendAuditEvents(tx, [audit]);
    return inserted;
  });
  return { ...presentPartnerKey(row), key: minted.plaintext };
}

/**
 * Which keys a caller sees: the CP admin every key; a partner key its partner's keys (an org-bound key only those bound
 * to its org) — and always itself. Unseen keys are 404 (no enumeration across partners).
 */
export function canSee(viewer: Principal, row: PartnerKeyListRow): boolean {
  if (!isPartnerPrincipal(viewer)) return true;
  if (row.id === viewer.credentialId) return true;
  if (row.partner_id !== viewer.partnerId) return false;
  return viewer.orgId === null || row.org_id === viewer.orgId;
}

/** Viewer filter for the list: undefined fields mean "no restriction". */
export function listScopeOf(viewer: Principal, requestedPartner: string | undefined): { partnerId?: string; orgId?: string } {
  if (!isPartnerPrincipal(viewer)) return requestedPartner !== undefined ? { partnerId: requestedPartner } : {};
  return { partnerId: viewer.partnerId, ...(viewer.orgId !== null ? { orgId: viewer.orgId } : {}) };
}

export async function visibleKey(ctx: ControlPlaneContext, viewer: Principal, id: string): Promise<PartnerKeyListRow> {
  const row = await findPartnerKey(ctx.db, id);
  if (!row || !canSee(viewer, row)) throw new DomainError('NOT_FOUND', 'partner key not found');
  return row;
}

/**
 * Revokes a key: the CP admin any key; a partner key itself (no scope needed, the seed's self-revoke) or, with
 * `admin:keys`, a key it can see. Effective on the next request on every replica: verification reads the row every
 * time. Revoking an already revoked key changes nothing and answers the same 204.
 */
export async function revokeKey(ctx: ControlPlaneContext, caller: Principal, id: string, audit: AuditEventInput): Promise<void> {
  const row = await visibleKey(ctx, caller, id);
  if (isPartnerPrincipal(caller) && row.id !== caller.credentialId && !grants(caller.scopes, 'admin:keys')) {
    throw new DomainError('SCOPE_MISSING', 'this API key lacks the scope admin:keys (a key may revoke only itself without it)', { required_scope: 'admin:keys' });
  }
  await ctx.db.transaction().execute(async (tx) => {
    await revokePartnerKey(tx, row.id);
    await appendAuditEvents(tx, [audit]);
  });
}
