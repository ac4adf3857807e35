import type { Kysely, Selectable, Transaction } from 'kysely';
import type { ControlPlaneSchema, MemberRole, OrgInvitationsTable } from '../db/schema.js';

type Db = Kysely<ControlPlaneSchema> | Transaction<ControlPlaneSchema>;
export type InvitationRow = Selectable<OrgInvitationsTable>;

/**
 * Takes the org's row lock for the rest of the transaction. Every membership change (invite, accept, role change,
 * removal) starts here, so they run one at a time per org and each sees the others' committed result: the
 * "at least one owner" count and the pending-invitation cap cannot be raced. FOR NO KEY UPDATE conflicts with
 * itself but not with the KEY SHARE locks that inserts referencing the org take, so other tables' writes for the
 * org are not held up. Returns false when the org is gone.
 */
export async function lockOrgMembership(tx: Transaction<ControlPlaneSchema>, orgId: string): Promise<boolean> {
  const row = await tx.selectFrom('organizations').select('id').where('id', '=', orgId).forNoKeyUpdate().executeTakeFirst();
  return row !== undefined;
}

export async function findMember(db: Db, orgId: string, userId: string) {
  return db
    .selectFrom('org_members')
    .leftJoin('users', 'users.id', 'org_members.user_id')
    .select(['org_members.user_id', 'org_members.role', 'org_members.created_at', 'org_members.invited_by', 'users.email', 'users.name'])
    .where('org_members.org_id', '=', orgId)
    .where('org_members.user_id', '=', userId)
    .executeTakeFirst();
}
export type MemberRow = NonNullable<Awaited<ReturnType<typeof findMember>>>;

export async function countOwners(db: Db, orgId: string): Promise<number> {
  const row = await db
    .selectFrom('org_members')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('org_id', '=', orgId)
    .where('role', '=', 'owner')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function isEmailAMember(db: Db, orgId: string, email: string): Promise<boolean> {
  const row = await db
    .selectFrom('org_members')
    .innerJoin('users', 'users.id', 'org_members.user_id')
    .select('org_members.user_id')
    .where('org_members.org_id', '=', orgId)
    .where('users.email', '=', email)
    .executeTakeFirst();
  return row !== undefined;
}

export async function insertMember(tx: Db, member: { orgId: string; userId: string; role: MemberRole; invitedBy: string | null }) {
  await tx.insertInto('org_members').values({ org_id: member.orgId, user_id: member.userId, role: member.role, invited_by: member.invitedBy }).execute();
}

export async function setMemberRole(tx: Db, orgId: string, userId: string, role: MemberRole) {
  await tx.updateTable('org_members').set({ role }).where('org_id', '=', orgId).where('user_id', '=', userId).execute();
}

export async function deleteMember(tx: Db, orgId: string, userId: string) {
  await tx.deleteFrom('org_members').where('org_id', '=', orgId).where('user_id', '=', userId).execute();
}

/** Pending = neither accepted nor revoked, and not yet expired. */
export async function countPendingInvitations(db: Db, orgId: string, now: Date): Promise<number> {
  const row = await db
    .selectFrom('org_invitations')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('org_id', '=', orgId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function listPendingInvitations(db: Db, orgId: string, now: Date) {
  return db
    .selectFrom('org_invitations')
    .select(['id', 'role', 'email', 'prefix', 'invited_by', 'created_at', 'expires_at'])
    .where('org_id', '=', orgId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'asc')
    .orderBy('id', 'asc')
    .execute();
}

export async function insertInvitation(
  tx: Db,
  inv: { id: string; orgId: string; tokenHash: string; prefix: string; email: string | null; role: MemberRole; invitedBy: string; expiresAt: Date },
): Promise<InvitationRow> {
  return tx
    .insertInto('org_invitations')
    .values({ id: inv.id, org_id: inv.orgId, token_hash: inv.tokenHash, prefix: inv.prefix, email: inv.email, role: inv.role, invited_by: inv.invitedBy, expires_at: inv.expiresAt })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** One indexed equality on the token hash, live rows only. */
export async function findLiveInvitationByHash(db: Db, tokenHash: string, now: Date): Promise<InvitationRow | undefined> {
  return db
    .selectFrom('org_invitations')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/**
 * Marks the invitation used, only if it still is live: under concurrent accepts exactly one caller's update
 * matches (the others wait for its row lock, then see `accepted_at` set and match nothing).
 */
export async function consumeInvitation(tx: Db, id: string, userId: string, now: Date): Promise<boolean> {
  const result = await tx
    .updateTable('org_invitations')
    .set({ accepted_at: now, accepted_by: userId })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Revokes a pending invitation of this org; false when there is none (unknown, other org's, used, revoked, expired). */
export async function revokeInvitation(tx: Db, orgId: string, id: string, now: Date): Promise<boolean> {
  const result = await tx
    .updateTable('org_invitations')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('org_id', '=', orgId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
