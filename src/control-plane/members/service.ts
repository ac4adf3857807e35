import type { Transaction } from 'kysely';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { hashCredential, isWellFormed, mintCredential } from '../../core/credentials/format.js';
import { DomainError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { ControlPlaneContext } from '../context.js';
import type { ControlPlaneSchema, MemberRole } from '../db/schema.js';
import { normalizeEmail } from '../identity/store.js';
import { memberRoleAtLeast } from '../orgs/access.js';
import type { OrgRow } from '../orgs/store.js';
import {
  consumeInvitation,
  countOwners,
  countPendingInvitations,
  deleteMember,
  findLiveInvitationByHash,
  findMember,
  insertInvitation,
  insertMember,
  isEmailAMember,
  lockOrgMembership,
  revokeInvitation,
  setMemberRole,
  type InvitationRow,
  type MemberRow,
} from './store.js';

/**
 * Pending invitations one org may hold. Each is a live bearer secret, so the cap bounds what a leaked admin
 * session can scatter; revoking or letting some expire frees room.
 */
export const MAX_PENDING_INVITATIONS = 100;

type Tx = Transaction<ControlPlaneSchema>;
type OrgRef = Pick<OrgRow, 'id' | 'slug'>;

function roleForbidden(role: MemberRole, message: string, requiredRole: MemberRole): DomainError {
  return new DomainError('ROLE_FORBIDDEN', `${message}; your role is ${role}`, { role, required_role: requiredRole });
}

/**
 * The caller's membership, read again under the org lock: a role checked before the lock may have changed (or the
 * caller been removed) by the time this transaction runs. Not a member any more → 404, as for any non-member.
 */
async function actorUnderLock(tx: Tx, org: OrgRef, userId: string): Promise<MemberRow> {
  if (!(await lockOrgMembership(tx, org.id))) throw new DomainError('ORG_NOT_FOUND');
  const actor = await findMember(tx, org.id, userId);
  if (!actor) throw new DomainError('ORG_NOT_FOUND');
  return actor;
}

/** Who may issue an invitation carrying `role`: admins and owners; an owner invitation only an owner. */
function mayInvite(issuer: MemberRole, role: MemberRole): boolean {
  return memberRoleAtLeast(issuer, 'admin') && (role !== 'owner' || issuer === 'owner');
}

/**
 * An invitation never outlives its issuer's authority to issue it: when a member is removed or demoted, their
 * pending invitations that they could no longer issue are revoked in the same transaction. Otherwise a removed
 * owner could walk back in on an open invitation they had minted for themselves.
 */
async function revokeInvitationsBeyond(tx: Tx, orgId: string, issuerId: string, newRole: MemberRole | null, now: Date): Promise<void> {
  const revocable: MemberRole[] = (['owner', 'admin', 'member'] as const).filter((r) => newRole === null || !mayInvite(newRole, r));
  if (revocable.length === 0) return;
  await tx
    .updateTable('org_invitations')
    .set({ revoked_at: now })
    .where('org_id', '=', orgId)
    .where('invited_by', '=', issuerId)
    .where('role', 'in', revocable)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .execute();
}

export interface CreateInvitationInput {
  email: string | null;
  role: MemberRole;
  expiresInHours: number;
}

export interface CreatedInvitation {
  row: InvitationRow;
  /** The plaintext invite token: returned to the caller once, never stored (only its sha256 and prefix are). */
  token: string;
}

export async function createInvitation(ctx: ControlPlaneContext, org: OrgRef, inviterId: string, input: CreateInvitationInput, audit: AuditEventInput): Promise<CreatedInvitation> {
  const email = input.email === null ? null : normalizeEmail(input.email);
  return ctx.db.transaction().execute(async (tx) => {
    const inviter = await actorUnderLock(tx, org, inviterId);
    if (!memberRoleAtLeast(inviter.role, 'admin')) throw roleForbidden(inviter.role, 'only an org admin or owner can invite members', 'admin');
    if (!mayInvite(inviter.role, input.role)) throw roleForbidden(inviter.role, 'only an org owner can invite an owner', 'owner');
    if (email !== null && (await isEmailAMember(tx, org.id, email))) {
      throw new DomainError('ALREADY_MEMBER', `${email} is already a member of this org`, { field: 'email' });
    }
    const now = new Date();
    const pending = await countPendingInvitations(tx, org.id, now);
    if (pending >= MAX_PENDING_INVITATIONS) {
      throw new DomainError(
        'INVITATION_LIMIT',
        `this org already has ${pending} pending invitations (the limit is ${MAX_PENDING_INVITATIONS}); revoke some (DELETE /api/v1/orgs/${org.slug}/members/invitations/:id) or wait for them to expire`,
        { limit: MAX_PENDING_INVITATIONS },
      );
    }
    const minted = mintCredential('invitation');
    const row = await insertInvitation(tx, {
      id: newId('invitation'),
      orgId: org.id,
      tokenHash: minted.hash,
      prefix: minted.displayPrefix,
      email,
      role: input.role,
      invitedBy: inviterId,
      expiresAt: new Date(now.getTime() + input.expiresInHours * 3600_000),
    });
    await appendAuditEvents(tx, [audit]);
    return { row, token: minted.plaintext };
  });
}

export async function revokePendingInvitation(ctx: ControlPlaneContext, org: OrgRef, actorId: string, invitationId: string, audit: AuditEventInput): Promise<void> {
  await ctx.db.transaction().execute(async (tx) => {
    const actor = await actorUnderLock(tx, org, actorId);
    if (!memberRoleAtLeast(actor.role, 'admin')) throw roleForbidden(actor.role, 'only an org admin or owner can revoke invitations', 'admin');
    if (!(await revokeInvitation(tx, org.id, invitationId, new Date()))) throw new DomainError('INVITATION_NOT_FOUND');
    await appendAuditEvents(tx, [audit]);
  });
}

export interface AcceptingUser {
  userId: string;
  email: string;
  /** Whether the user's address is proven; an email-bound invitation asks for it. */
  emailVerified: boolean;
}

/**
 * Accepts an invitation for the signed-in user. Every way a token can be wrong — malformed, unknown, expired,
 * revoked, used, bound to another email — is the same 404, so the endpoint tells a guesser nothing.
 * A user who is already a member gets 409 and the invitation is NOT consumed (the transaction rolls back): an
 * open invitation clicked by the wrong colleague stays usable by the person it was meant for.
 * An email-bound invitation also needs the address verified: merely claiming it at sign-up proves nothing, so the
 * user whose address matches but is unverified gets 403 EMAIL_NOT_VERIFIED and the invitation stays unused.
 */
export async function acceptInvitation(ctx: ControlPlaneContext, user: AcceptingUser, token: string, audit: AuditEventInput): Promise<{ org: OrgRow; role: MemberRole }> {
  if (!isWellFormed('invitation', token)) throw new DomainError('INVITATION_NOT_FOUND');
  const tokenHash = hashCredential(token);
  return ctx.db.transaction().execute(async (tx) => {
    const now = new Date();
    const invitation = await findLiveInvitationByHash(tx, tokenHash, now);
    if (!invitation) throw new DomainError('INVITATION_NOT_FOUND');
    if (invitation.email !== null) {
      if (invitation.email !== normalizeEmail(user.email)) throw new DomainError('INVITATION_NOT_FOUND');
      if (!user.emailVerified) {
        throw new DomainError(
          'EMAIL_NOT_VERIFIED',
          `this invitation is for ${invitation.email}, which is not verified yet: open the verification link sent to it, or request a new one (POST /api/v1/auth/verify-email/request), then accept again`,
          { email: invitation.email },
        );
      }
    }
    if (!(await lockOrgMembership(tx, invitation.org_id))) throw new DomainError('INVITATION_NOT_FOUND');
    if (await findMember(tx, invitation.org_id, user.userId)) {
      throw new DomainError('ALREADY_MEMBER', 'you are already a member of this org; the invitation was not used', { role: invitation.role });
    }
    // Single use: the conditional update is what decides between concurrent accepts, not the read above.
    if (!(await consumeInvitation(tx, invitation.id, user.userId, now))) throw new DomainError('INVITATION_NOT_FOUND');
    await insertMember(tx, { orgId: invitation.org_id, userId: user.userId, role: invitation.role, invitedBy: invitation.invited_by });
    await appendAuditEvents(tx, [audit]);
    const org = await tx.selectFrom('organizations').selectAll().where('id', '=', invitation.org_id).executeTakeFirstOrThrow();
    return { org, role: invitation.role };
  });
}

/**
 * Owners change any role; admins move people between member and admin but never touch an owner nor grant owner.
 * The last owner cannot be demoted (the org would be left with nobody able to delete it or appoint anyone).
 */
export async function changeMemberRole(ctx: ControlPlaneContext, org: OrgRef, actorId: string, targetId: string, role: MemberRole, audit: AuditEventInput): Promise<MemberRow> {
  return ctx.db.transaction().execute(async (tx) => {
    const actor = await actorUnderLock(tx, org, actorId);
    if (!memberRoleAtLeast(actor.role, 'admin')) throw roleForbidden(actor.role, 'only an org admin or owner can change member roles', 'admin');
    const target = await findMember(tx, org.id, targetId);
    if (!target) throw new DomainError('MEMBER_NOT_FOUND', undefined, { user_id: targetId });
    if (actor.role !== 'owner') {
      if (target.role === 'owner') throw roleForbidden(actor.role, 'only an org owner can change an owner’s role', 'owner');
      if (role === 'owner') throw roleForbidden(actor.role, 'only an org owner can grant the owner role', 'owner');
    }
    if (target.role === 'owner' && role !== 'owner' && (await countOwners(tx, org.id)) <= 1) {
      throw new DomainError('LAST_OWNER', 'this is the org’s last owner: make someone else owner first', { user_id: targetId });
    }
    if (target.role !== role) {
      await setMemberRole(tx, org.id, targetId, role);
      await revokeInvitationsBeyond(tx, org.id, targetId, role, new Date());
    }
    await appendAuditEvents(tx, [audit]);
    return { ...target, role };
  });
}

/**
 * Removes a member, or lets a member leave. Owners remove anyone; admins remove admins and members; a member may
 * only remove themselves. The last owner can neither leave nor be removed.
 */
export async function removeMember(ctx: ControlPlaneContext, org: OrgRef, actorId: string, targetId: string, audit: AuditEventInput): Promise<void> {
  await ctx.db.transaction().execute(async (tx) => {
    const actor = await actorUnderLock(tx, org, actorId);
    const leaving = actorId === targetId;
    if (!leaving && !memberRoleAtLeast(actor.role, 'admin')) throw roleForbidden(actor.role, 'only an org admin or owner can remove other members', 'admin');
    const target = leaving ? actor : await findMember(tx, org.id, targetId);
    if (!target) throw new DomainError('MEMBER_NOT_FOUND', undefined, { user_id: targetId });
    if (!leaving && actor.role !== 'owner' && target.role === 'owner') throw roleForbidden(actor.role, 'only an org owner can remove an owner', 'owner');
    if (target.role === 'owner' && (await countOwners(tx, org.id)) <= 1) {
      throw new DomainError('LAST_OWNER', 'this is the org’s last owner: make someone else owner first, or delete the org', { user_id: targetId });
    }
    await deleteMember(tx, org.id, targetId);
    await revokeInvitationsBeyond(tx, org.id, targetId, null, new Date());
    await appendAuditEvents(tx, [audit]);
  });
}
