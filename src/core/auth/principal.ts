/**
 * What authentication yields: one typed principal. Authorization and audit read only this, never headers.
 */

export const ROLES = ['reader', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export type CredentialClass =
  | 'org-token'
  | 'workspace-token'
  | 'admin-token'
  | 'session'
  | 'bootstrap'
  | 'partner-key'
  | 'cp-admin'
  /** A tenant's admin token presented to the CP (tenant callbacks, provisioning API): stands for that org's tenant. */
  | 'tenant-admin-token';

export interface Principal {
  class: CredentialClass;
  /** The stored credential's id (`tok_…`, `wtk_…`), or null for env-configured or session credentials. */
  credentialId: string | null;
  /** The display prefix of a minted credential (`mola_k7x9p2q4`), never more. */
  displayPrefix: string | null;
  /** How the audit trail names the caller: `org-token:<prefix>`, `session:<user_id>`, `admin-token`, …. */
  actor: string;
  role: Role;
  /** The workspaces this credential is confined to; null means every workspace of the org. */
  workspaceIds: readonly string[] | null;
  orgId: string | null;
  /** The signed-in user behind a control-plane session; absent for every other class. */
  userId?: string;
  /** A partner key's partner (control plane): every org it creates is that partner's, and the audit row names it. */
  partnerId?: string;
  /** A partner key's scopes (`orgs:create`, …); absent for every other class. */
  scopes?: readonly string[];
  /** An org key minted with approval_required: every gated action and every delete it attempts needs an approval. */
  approvalRequired?: boolean;
  /** Set when the credential was accepted only through a deprecated tier; the response says so. */
  deprecated?: boolean;
}

const RANK: Record<Role, number> = { reader: 0, editor: 1, admin: 2 };

export function roleAtLeast(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

/** True when a scope (role + workspace binding) is no wider than another: the rule for minting and revoking. */
export function scopeWithin(
  inner: { role: Role; workspaceIds: readonly string[] | null },
  outer: { role: Role; workspaceIds: readonly string[] | null },
): boolean {
  if (!roleAtLeast(outer.role, inner.role)) return false;
  if (outer.workspaceIds === null) return true;
  if (inner.workspaceIds === null) return false;
  const allowed = new Set(outer.workspaceIds);
  return inner.workspaceIds.every((id) => allowed.has(id));
}

export function canSeeWorkspace(principal: Principal, workspaceId: string): boolean {
  return principal.workspaceIds === null || principal.workspaceIds.includes(workspaceId);
}

/**
 * True when a credential confined to `scope` (null: unbound) can see every one of `ids`. A bound credential acts on a
 * workspace's descendants (cascade, confirm) only when this holds for all of them.
 */
export function scopeCovers(scope: readonly string[] | null, ids: readonly string[]): boolean {
  if (scope === null) return true;
  const allowed = new Set(scope);
  return ids.every((id) => allowed.has(id));
}
