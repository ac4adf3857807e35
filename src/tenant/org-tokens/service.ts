import type { Kysely } from 'kysely';
import { scopeWithin, type Principal, type Role } from '../../core/auth/principal.js';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { mintCredential } from '../../core/credentials/format.js';
import { DomainError, ValidationError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { TenantSchema } from '../db/schema.js';
import { findLiveWorkspaceIds } from '../workspaces/store.js';
import { enforceKeyPolicy, getKeyPolicy } from './policy.js';
import { expireOrgTokenWithin, insertOrgToken, lockLiveOrgTokens, markReplaced, revokeOrgToken, type OrgTokenRow } from './store.js';

export interface MintOrgTokenInput {
  name?: string | null | undefined;
  role?: Role | undefined;
  workspace_ids?: string[] | null | undefined;
  expires_at?: string | null | undefined;
  approval_required?: boolean | undefined;
}

export interface MintedKey {
  row: OrgTokenRow;
  /** The plaintext, for the one response that shows it. */
  plaintext: string;
}

/** True when `principal` may see or manage `key`: the key is no wider than the caller, or is the caller itself. */
export function canManageKey(principal: Principal, key: Pick<OrgTokenRow, 'id' | 'role' | 'workspace_ids'>, checkRole: boolean): boolean {
  if (principal.credentialId === key.id) return true;
  const keyScope = { role: checkRole ? key.role : 'reader', workspaceIds: key.workspace_ids } as const;
  return scopeWithin(keyScope, principal);
}

async function resolveScope(db: Kysely<TenantSchema>, principal: Principal, input: MintOrgTokenInput) {
  const role: Role = input.role ?? 'admin';
  // A bound caller that names no binding gets its own: the widest key it is allowed to mint.
  const workspaceIds = input.workspace_ids === undefined ? principal.workspaceIds : input.workspace_ids;
  const normalized = workspaceIds === null ? null : [...new Set(workspaceIds.map((id) => id.toLowerCase()))].sort();
  if (!scopeWithin({ role, workspaceIds: normalized }, principal)) {
    throw new DomainError('ROLE_FORBIDDEN', 'a key cannot mint a key with a stronger role or a wider workspace binding than its own', {
      role: principal.role,
      workspace_ids: principal.workspaceIds,
    });
  }
  if (normalized) {
    const live = new Set(await findLiveWorkspaceIds(db, normalized));
    const unknown = normalized.filter((id) => !live.has(id));
    if (unknown.length > 0) throw new ValidationError(`unknown workspace id: ${unknown.join(', ')}`, { field: 'workspace_ids', unknown });
  }
  // No widening: a key that needs approvals mints only keys that need them too.
  if (principal.approvalRequired && input.approval_required === false) {
    throw new DomainError('ROLE_FORBIDDEN', 'a key minted with approval_required cannot mint a key without it', { approval_required: true });
  }
  return { role, workspaceIds: normalized, approvalRequired: input.approval_required ?? principal.approvalRequired ?? false };
}

function parseExpiry(value: string | null | undefined, now: Date): Date | null {
  if (value === undefined || value === null) return null;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new ValidationError('expires_at must be an RFC 3339 date-time', { field: 'expires_at' });
  if (at.getTime() <= now.getTime()) throw new ValidationError('expires_at must be in the future', { field: 'expires_at' });
  return at;
}

/** The earlier of two expiries, where null means "never". */
function earlier(a: Date | null, b: Date | null): Date | null {
  if (a === null) return b;
  if (b === null) return a;
  return a.getTime() <= b.getTime() ? a : b;
}

/**
 * What a caller brings to key management beyond its role and binding: its own lifetime. Credentials that are not
 * stored keys (ADMIN_TOKEN, sessions, bootstrap) have none. A key that a rotation has retired may not manage keys
 * at all: during its grace window it could otherwise revoke (or out-rotate) the very key that replaced it.
 *
 * `locked` is the caller's row as read by `lockLiveOrgTokens` in this transaction (so a concurrent rotation of the
 * caller is either fully before or fully after this check).
 */
function callerLifetime(principal: Principal, locked: readonly OrgTokenRow[]): { expiresAt: Date | null } {
  if (principal.class !== 'org-token' || principal.credentialId === null) return { expiresAt: null };
  const own = locked.find((k) => k.id === principal.credentialId);
  // Revoked or expired since authentication a moment ago: fail closed, as the next request would.
  if (!own) throw new DomainError('INVALID_ADMIN_AUTH');
  if (own.replaced_by !== null) throw new DomainError('KEY_RETIRING', undefined, { replaced_by: own.replaced_by });
  return { expiresAt: own.expires_at };
}

const callerIds = (principal: Principal): string[] => (principal.class === 'org-token' && principal.credentialId !== null ? [principal.credentialId] : []);

/**
 * Mints an org API key and writes its audit event in the same transaction. A key never outlives the key that
 * minted it: a later (or absent) `expires_at` is clamped to the caller's, and the response shows the effective one.
 */
export async function mintOrgToken(db: Kysely<TenantSchema>, principal: Principal, input: MintOrgTokenInput, audit: AuditEventInput): Promise<MintedKey> {
  const requested = parseExpiry(input.expires_at, new Date());
  return db.transaction().execute(async (trx) => {
    const caller = callerLifetime(principal, await lockLiveOrgTokens(trx, callerIds(principal)));
    const expiresAt = earlier(requested, caller.expiresAt);
    // The org key policy judges the key as it would be minted (after the caller's own expiry clamps it).
    enforceKeyPolicy(await getKeyPolicy(trx), expiresAt);
    const scope = await resolveScope(trx, principal, input);
    const minted = mintCredential('orgKey');
    const row = await insertOrgToken(trx, {
      id: newId('orgToken'),
      token_hash: minted.hash,
      prefix: minted.displayPrefix,
      name: input.name ? input.name : null,
      role: scope.role,
      workspace_ids: scope.workspaceIds,
      expires_at: expiresAt,
      created_by: principal.actor,
      org_id: principal.orgId,
      rotated_from: null,
      approval_required: scope.approvalRequired,
    });
    await appendAuditEvents(trx, [audit]);
    return { row, plaintext: minted.plaintext };
  });
}

/**
 * Revokes a key the caller can manage. Unknown, dead or out-of-scope keys are all the same 404. A key may always
 * revoke itself — even a retiring one, which thereby only ends its own overlap early.
 */
export async function revokeOrgTokenById(db: Kysely<TenantSchema>, principal: Principal, id: string, audit: AuditEventInput): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const locked = await lockLiveOrgTokens(trx, [id, ...callerIds(principal)]);
    if (principal.credentialId !== id) callerLifetime(principal, locked);
    const key = locked.find((k) => k.id === id);
    if (!key || !canManageKey(principal, key, true) || !(await revokeOrgToken(trx, id))) throw new DomainError('TOKEN_NOT_FOUND');
    await appendAuditEvents(trx, [audit]);
  });
}

export interface RotateResult extends MintedKey {
  previousExpiresAt: Date | null;
}

/**
 * Rotation: a new key with the old one's name, role and binding; the old key keeps working for `graceSeconds`
 * (0 = revoked now) so deployments can roll over without an outage, and is marked retiring meanwhile.
 *
 * The new key inherits the old one's expiry: a rotation renews the secret, not the lifetime. Only a caller that
 * itself never expires may choose another lifetime, by naming `expires_at` (a date, or null for none); any other
 * caller's choice is clamped to the old key's expiry and to its own.
 */
export async function rotateOrgToken(
  db: Kysely<TenantSchema>,
  principal: Principal,
  id: string,
  opts: { graceSeconds: number; expiresAt?: string | null | undefined },
  audit: AuditEventInput,
): Promise<RotateResult> {
  const requested = parseExpiry(opts.expiresAt, new Date());
  return db.transaction().execute(async (trx) => {
    const locked = await lockLiveOrgTokens(trx, [id, ...callerIds(principal)]);
    const caller = callerLifetime(principal, locked);
    const old = locked.find((k) => k.id === id);
    if (!old || !canManageKey(principal, old, true)) throw new DomainError('TOKEN_NOT_FOUND');
    const named = opts.expiresAt !== undefined;
    const expiresAt =
      caller.expiresAt === null && named ? requested : earlier(earlier(named ? requested : null, old.expires_at), caller.expiresAt);
    const minted = mintCredential('orgKey');
    const row = await insertOrgToken(trx, {
      id: newId('orgToken'),
      token_hash: minted.hash,
      prefix: minted.displayPrefix,
      name: old.name,
      role: old.role,
      workspace_ids: old.workspace_ids,
      expires_at: expiresAt,
      created_by: principal.actor,
      org_id: old.org_id,
      rotated_from: old.id,
      approval_required: old.approval_required,
    });
    await markReplaced(trx, old.id, row.id);
    let previousExpiresAt: Date | null;
    if (opts.graceSeconds === 0) {
      await revokeOrgToken(trx, old.id);
      previousExpiresAt = new Date();
    } else {
      previousExpiresAt = await expireOrgTokenWithin(trx, old.id, opts.graceSeconds);
    }
    await appendAuditEvents(trx, [audit]);
    return { row, plaintext: minted.plaintext, previousExpiresAt };
  });
}
