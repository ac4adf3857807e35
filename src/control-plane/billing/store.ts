import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type {
  BillingSessionsTable,
  ControlPlaneSchema,
  CreditLedgerTable,
  InvoiceLine,
  InvoicesTable,
  MemberRole,
  PlanId,
} from '../db/schema.js';
import type { OrgRow } from '../orgs/store.js';

/** The billing tables' queries: billing sessions, invoices and the credit ledger. */

type Db = Kysely<ControlPlaneSchema> | Transaction<ControlPlaneSchema>;

export type BillingSessionRow = Selectable<BillingSessionsTable> & { org_slug: string };
export type InvoiceRow = Selectable<InvoicesTable> & { org_slug: string };
export type LedgerRow = Selectable<CreditLedgerTable>;

export async function insertBillingSession(tx: Db, values: Insertable<BillingSessionsTable>): Promise<void> {
  await tx.insertInto('billing_sessions').values(values).execute();
}

export async function findBillingSession(db: Db, id: string): Promise<BillingSessionRow | undefined> {
  return db
    .selectFrom('billing_sessions')
    .innerJoin('organizations', 'organizations.id', 'billing_sessions.org_id')
    .selectAll('billing_sessions')
    .select('organizations.slug as org_slug')
    .where('billing_sessions.id', '=', id)
    .executeTakeFirst();
}

/**
 * Closes a session that is still open, in one conditional statement: of two requests racing to close the same
 * session, exactly one gets the row back (the other waits on the row lock, then sees it closed).
 */
export async function closeOpenBillingSession(
  tx: Db,
  id: string,
  status: 'completed' | 'cancelled',
  actor: string,
  now: Date,
): Promise<Selectable<BillingSessionsTable> | undefined> {
  return tx
    .updateTable('billing_sessions')
    .set({ status, completed_at: now, completed_by: actor })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
}

/** Records that a still-pending session ran out of time (reads already treat it as expired). */
export async function markBillingSessionExpired(db: Db, id: string, now: Date): Promise<void> {
  await db.updateTable('billing_sessions').set({ status: 'expired' }).where('id', '=', id).where('status', '=', 'pending').where('expires_at', '<=', now).execute();
}

/** The org row, locked until the transaction ends: billing changes to one org apply one at a time. */
export async function lockOrg(tx: Transaction<ControlPlaneSchema>, orgId: string): Promise<OrgRow | undefined> {
  return tx.selectFrom('organizations').selectAll().where('id', '=', orgId).forUpdate().executeTakeFirst();
}

export async function findOrgById(db: Db, orgId: string): Promise<OrgRow | undefined> {
  return db.selectFrom('organizations').selectAll().where('id', '=', orgId).executeTakeFirst();
}

export async function getOrgById(db: Db, orgId: string): Promise<OrgRow> {
  return db.selectFrom('organizations').selectAll().where('id', '=', orgId).executeTakeFirstOrThrow();
}

export async function setOrgPlan(tx: Db, orgId: string, plan: { id: PlanId; monthly_credits: number; overage_cap_credits: number }): Promise<void> {
  await tx
    .updateTable('organizations')
    .set({ plan: plan.id, plan_monthly_credits: plan.monthly_credits, overage_cap_credits: plan.overage_cap_credits, updated_at: new Date() })
    .where('id', '=', orgId)
    .execute();
}

export async function countInvoicesOfOrg(tx: Db, orgId: string): Promise<number> {
  const row = await tx
    .selectFrom('invoices')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('org_id', '=', orgId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertInvoice(
  tx: Db,
  values: { id: string; org_id: string; number: string; description: string; amount_cents: number; currency: string; lines: InvoiceLine[]; paid_at: Date },
): Promise<void> {
  await tx
    .insertInto('invoices')
    .values({ ...values, status: 'paid', lines: JSON.stringify(values.lines) })
    .execute();
}

/** Invoices of the given orgs, newest first (ids are time-ordered, so they break ties within a millisecond). */
export async function listInvoicesOfOrgs(db: Db, orgIds: readonly string[], limit?: number): Promise<InvoiceRow[]> {
  if (orgIds.length === 0) return [];
  let query = db
    .selectFrom('invoices')
    .innerJoin('organizations', 'organizations.id', 'invoices.org_id')
    .selectAll('invoices')
    .select('organizations.slug as org_slug')
    .where('invoices.org_id', 'in', orgIds)
    .orderBy('invoices.created_at', 'desc')
    .orderBy('invoices.id', 'desc');
  if (limit !== undefined) query = query.limit(limit);
  return query.execute();
}

/** The org's most recent ledger entries, newest first. */
export async function listLedgerOfOrg(db: Db, orgId: string, limit: number): Promise<LedgerRow[]> {
  return db
    .selectFrom('credit_ledger')
    .selectAll()
    .where('org_id', '=', orgId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

/** Ids of the orgs where the user holds one of the roles. */
export async function orgIdsWithRole(db: Db, userId: string, roles: readonly MemberRole[]): Promise<string[]> {
  const rows = await db.selectFrom('org_members').select('org_id').where('user_id', '=', userId).where('role', 'in', roles).execute();
  return rows.map((r) => r.org_id);
}
