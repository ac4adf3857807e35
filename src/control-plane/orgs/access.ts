import { DomainError } from '../../core/errors.js';
import type { Principal } from '../../core/auth/principal.js';
import type { ControlPlaneContext } from '../context.js';
import type { MemberRole } from '../db/schema.js';
import { isPartnerPrincipal, type PartnerPrincipal } from '../partner-keys/auth.js';
import { findMembershipBySlug, findPartnerOrg, type OrgRow } from './store.js';

const RANK: Record<MemberRole, number> = { member: 0, admin: 1, owner: 2 };

export function memberRoleAtLeast(have: MemberRole, need: MemberRole): boolean {
  return RANK[have] >= RANK[need];
}

/**
 * The first line of every org-scoped session handler: the org, if the caller is a member with at least `need`.
 * Not a member (or no such org) → 404, so existence is not revealed; a member with too small a role → 403.
 */
export async function requireOrgRole(ctx: ControlPlaneContext, principal: Principal | null, slug: string, need: MemberRole, action: string) {
  // A partner key got here through its route's scope (the auth hook checked it); what is left is which orgs it reaches.
  if (isPartnerPrincipal(principal)) return requirePartnerOrg(ctx, principal, { slug });
  const userId = principal?.userId;
  if (!userId) throw new DomainError('SESSION_REQUIRED');
  const org = await findMembershipBySlug(ctx.db, slug, userId);
  if (!org) throw new DomainError('ORG_NOT_FOUND');
  if (!memberRoleAtLeast(org.role, need)) {
    throw new DomainError('ROLE_FORBIDDEN', `only an org ${need}${need === 'owner' ? '' : ' or owner'} can ${action}; your role is ${org.role}`, {
      role: org.role,
      required_role: need,
    });
  }
  return org;
}

/**
 * The org a partner key may act on: one its partner created, and — for an org-bound key — exactly its org. Anything
 * else (another partner's org, a session user's org, an unknown one) is 404, so a key learns nothing about orgs it does
 * not manage. Within its scopes a key acts as the org's owner: the partner is the org's only principal.
 */
export async function requirePartnerOrg(ctx: ControlPlaneContext, principal: PartnerPrincipal, ref: { slug?: string; id?: string }): Promise<OrgRow & { role: MemberRole }> {
  const org = await findPartnerOrg(ctx.db, principal.partnerId, principal.orgId, ref);
  if (!org) throw new DomainError('ORG_NOT_FOUND');
  return { ...org, role: 'owner' };
}
