import type { Kysely, Transaction } from 'kysely';
import type { ControlPlaneSchema, MemberRole, OrganizationsTable } from '../db/schema.js';
import type { Selectable } from 'kysely';

type Db = Kysely<ControlPlaneSchema> | Transaction<ControlPlaneSchema>;
export type OrgRow = Selectable<OrganizationsTable>;

export async function findOrgBySlug(db: Db, slug: string): Promise<OrgRow | undefined> {
  return db.selectFrom('organizations').selectAll().where('slug', '=', slug).executeTakeFirst();
}

/** The org and the caller's role in it, or undefined when the org is unknown or the caller is not a member. */
export async function findMembershipBySlug(db: Db, slug: string, userId: string): Promise<(OrgRow & { role: MemberRole }) | undefined> {
  return db
    .selectFrom('organizations')
    .innerJoin('org_members', 'org_members.org_id', 'organizations.id')
    .selectAll('organizations')
    .select('org_members.role')
    .where('organizations.slug', '=', slug)
    .where('org_members.user_id', '=', userId)
    .executeTakeFirst();
}

/**
 * The org named by id and/or slug (both must match when both are given) and the caller's role in it; undefined when
 * there is no such org or the caller is not a member.
 */
export async function findMembership(db: Db, org: { id?: string | undefined; slug?: string | undefined }, userId: string): Promise<(OrgRow & { role: MemberRole }) | undefined> {
  if (org.id === undefined && org.slug === undefined) return undefined;
  let q = db
    .selectFrom('organizations')
    .innerJoin('org_members', 'org_members.org_id', 'organizations.id')
    .selectAll('organizations')
    .select('org_members.role')
    .where('org_members.user_id', '=', userId);
  if (org.id !== undefined) q = q.where('organizations.id', '=', org.id);
  if (org.slug !== undefined) q = q.where('organizations.slug', '=', org.slug);
  return q.executeTakeFirst();
}

export async function listOrgsOfUser(db: Db, userId: string) {
  return db
    .selectFrom('organizations')
    .innerJoin('org_members', 'org_members.org_id', 'organizations.id')
    .selectAll('organizations')
    .select('org_members.role')
    .where('org_members.user_id', '=', userId)
    .orderBy('organizations.created_at', 'asc')
    .orderBy('organizations.id', 'asc')
    .execute();
}

export async function countFreeOrgsOwnedBy(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('organizations')
    .innerJoin('org_members', 'org_members.org_id', 'organizations.id')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('org_members.user_id', '=', userId)
    .where('org_members.role', '=', 'owner')
    .where('organizations.plan', '=', 'free')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function findInstance(db: Db, orgId: string) {
  return db.selectFrom('org_instances').selectAll().where('org_id', '=', orgId).executeTakeFirst();
}

export async function listMembers(db: Db, orgId: string) {
  return db
    .selectFrom('org_members')
    .leftJoin('users', 'users.id', 'org_members.user_id')
    .select(['org_members.user_id', 'org_members.role', 'org_members.created_at', 'org_members.invited_by', 'users.email', 'users.name'])
    .where('org_members.org_id', '=', orgId)
    .orderBy('org_members.created_at', 'asc')
    .orderBy('org_members.user_id', 'asc')
    .execute();
}

/**
 * An org of a partner's (by slug and/or id), confined to `boundOrgId` when the key is bound to one org; undefined when
 * there is no such org or it is not the partner's.
 */
export async function findPartnerOrg(db: Db, partnerId: string, boundOrgId: string | null, ref: { slug?: string; id?: string }): Promise<OrgRow | undefined> {
  if (ref.slug === undefined && ref.id === undefined) return undefined;
  let q = db.selectFrom('organizations').selectAll().where('partner_id', '=', partnerId);
  if (boundOrgId !== null) q = q.where('id', '=', boundOrgId);
  if (ref.id !== undefined) q = q.where('id', '=', ref.id);
  if (ref.slug !== undefined) q = q.where('slug', '=', ref.slug);
  return q.executeTakeFirst();
}

/** A partner's orgs (only the bound one for an org-bound key), oldest first. */
export async function listPartnerOrgs(db: Db, partnerId: string, boundOrgId: string | null): Promise<OrgRow[]> {
  let q = db.selectFrom('organizations').selectAll().where('partner_id', '=', partnerId);
  if (boundOrgId !== null) q = q.where('id', '=', boundOrgId);
  return q.orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
}
