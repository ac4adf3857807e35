import { sql, type Transaction } from 'kysely';
import { DomainError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { ControlPlaneSchema, InvoiceLine, PlanId } from '../db/schema.js';
import type { OrgRow } from '../orgs/store.js';
import { BILLING_CURRENCY, isPaidPlan, PLANS, topupPriceCents } from './plans.js';
import type {
  BillingDb,
  BillingProvider,
  BillingSession,
  BillingSessionRequest,
  CompletedBillingSession,
  Invoice,
  LedgerEntry,
  OpenedBillingSession,
} from './provider.js';
import {
  closeOpenBillingSession,
  countInvoicesOfOrg,
  findBillingSession,
  insertBillingSession,
  insertInvoice,
  listInvoicesOfOrgs,
  listLedgerOfOrg,
  markBillingSessionExpired,
  setOrgPlan,
  type BillingSessionRow,
  type InvoiceRow,
  type LedgerRow,
} from './store.js';

/**
 * Appends one entry to an org's credit ledger and moves its balance, in the caller's transaction. The balance on
 * the org row and `balance_after` on the entry are written together, so the ledger always sums to the balance.
 */
export async function postLedgerEntry(
  tx: Transaction<ControlPlaneSchema>,
  entry: { orgId: string; delta: number; reason: string; reference?: string | null; createdBy: string },
): Promise<number> {
  const row = await tx
    .updateTable('organizations')
    .set({ credits_balance: sql<number>`credits_balance + ${entry.delta}`, updated_at: new Date() })
    .where('id', '=', entry.orgId)
    .returning('credits_balance')
    .executeTakeFirstOrThrow();
  const balance = Number(row.credits_balance);
  await tx
    .insertInto('credit_ledger')
    .values({
      id: newId('ledgerEntry'),
      org_id: entry.orgId,
      delta: entry.delta,
      balance_after: balance,
      reason: entry.reason,
      reference: entry.reference ?? null,
      created_by: entry.createdBy,
    })
    .execute();
  return balance;
}

/** How long a checkout, top-up or portal link stays usable. */
export const BILLING_SESSION_TTL_MS = 60 * 60_000;

/** The page of ours where a session is looked at and, for checkout and top-up, confirmed by an owner. */
export function billingPageUrl(publicUrl: string, session: { id: string; kind: BillingSession['kind'] }): string {
  return `${publicUrl}/billing/${session.kind === 'portal' ? 'portal' : 'confirm'}/${session.id}`;
}

/**
 * The built-in self-hosted billing backend (`BILLING_PROVIDER=ledger`). Nothing leaves the control plane: a
 * session's page is ours, an org owner confirming it stands in for the payment, and confirming writes the plan
 * change, the credit grant and a paid invoice in the caller's transaction.
 */
export class LedgerBillingProvider implements BillingProvider {
  readonly name = 'ledger';

  async initializeOrg(tx: Transaction<ControlPlaneSchema>, org: { id: string; plan: PlanId; invoicedToPartner?: boolean }, actor: string) {
    if (isPaidPlan(org.plan) && !org.invoicedToPartner) {
      // A paid plan starts once it is paid for: the org waits, on the free plan's terms, for checkout.
      await tx.updateTable('organizations').set({ plan: 'free', plan_monthly_credits: 0, overage_cap_credits: 0 }).where('id', '=', org.id).execute();
      return 'awaiting_payment' as const;
    }
    const plan = PLANS[org.plan];
    await tx
      .updateTable('organizations')
      .set({ plan: plan.id, plan_monthly_credits: plan.monthly_credits, overage_cap_credits: plan.overage_cap_credits })
      .where('id', '=', org.id)
      .execute();
    if (plan.starting_credits > 0) await postLedgerEntry(tx, { orgId: org.id, delta: plan.starting_credits, reason: 'starting_credits', createdBy: actor });
    // A partner's paid org: the partner is invoiced for it outside this ledger; the plan's month starts now.
    if (isPaidPlan(plan.id) && plan.monthly_credits > 0) await postLedgerEntry(tx, { orgId: org.id, delta: plan.monthly_credits, reason: `plan_grant:${plan.id}`, reference: 'partner-invoiced', createdBy: actor });
    return 'provisioning' as const;
  }

  async openSession(tx: Transaction<ControlPlaneSchema>, request: BillingSessionRequest, actor: string): Promise<OpenedBillingSession> {
    const id = newId('billingSession');
    const expiresAt = new Date(Date.now() + BILLING_SESSION_TTL_MS);
    const common = { id, org_id: request.orgId, kind: request.kind, status: 'pending' as const, created_by: actor, expires_at: expiresAt };
    switch (request.kind) {
      case 'checkout':
        await insertBillingSession(tx, {
          ...common,
          plan: request.plan,
          credits: PLANS[request.plan].monthly_credits,
          amount_cents: PLANS[request.plan].price_cents,
          success_url: request.successUrl,
          cancel_url: request.cancelUrl,
          return_url: null,
        });
        break;
      case 'topup':
        await insertBillingSession(tx, {
          ...common,
          plan: null,
          credits: request.credits,
          amount_cents: topupPriceCents(request.credits),
          success_url: request.successUrl,
          cancel_url: request.cancelUrl,
          return_url: null,
        });
        break;
      case 'portal':
        await insertBillingSession(tx, { ...common, plan: null, credits: null, amount_cents: null, success_url: null, cancel_url: null, return_url: request.returnUrl });
        break;
    }
    return { id, url: billingPageUrl(request.publicUrl, { id, kind: request.kind }), expiresAt };
  }

  async findSession(db: BillingDb, id: string): Promise<BillingSession | undefined> {
    const row = await findBillingSession(db, id);
    return row ? toSession(row, new Date()) : undefined;
  }

  async expireSession(db: BillingDb, id: string): Promise<void> {
    await markBillingSessionExpired(db, id, new Date());
  }

  async completeSession(tx: Transaction<ControlPlaneSchema>, session: BillingSession, org: OrgRow, actor: string): Promise<CompletedBillingSession | null> {
    if (session.kind === 'portal') {
      throw new DomainError('CONFLICT', 'a portal session has nothing to confirm: choose a plan on the portal page, then confirm that change', { kind: 'portal' });
    }
    const now = new Date();
    const closed = await closeOpenBillingSession(tx, session.id, 'completed', actor, now);
    if (!closed) return null;
    const completed: BillingSession = { ...session, status: 'completed', completedAt: now, completedBy: actor };

    if (session.kind === 'topup') {
      const credits = Number(closed.credits);
      const amountCents = Number(closed.amount_cents);
      await postLedgerEntry(tx, { orgId: org.id, delta: credits, reason: 'topup', reference: session.id, createdBy: actor });
      const invoiceId = await this.writeInvoice(tx, org, `Credit top-up: ${credits.toLocaleString('en-US')} credits`, [
        { description: `${credits.toLocaleString('en-US')} credits`, quantity: credits, amount_cents: amountCents },
      ]);
      return { session: completed, planChangedTo: null, creditsGranted: credits, invoiceId };
    }

    const planId = closed.plan;
    if (!planId) throw new Error(`checkout session ${session.id} has no plan`);
    if (org.plan === planId) {
      // Another session changed the plan since this one was opened; charging for the same plan again is refused.
      throw new DomainError('PLAN_UNCHANGED', `org "${org.slug}" is already on the ${PLANS[planId].label} plan (${planId}); cancel this session`, { plan: planId });
    }
    const plan = PLANS[planId];
    await setOrgPlan(tx, org.id, plan);
    if (!isPaidPlan(planId)) return { session: completed, planChangedTo: planId, creditsGranted: 0, invoiceId: null };
    if (plan.monthly_credits > 0) {
      await postLedgerEntry(tx, { orgId: org.id, delta: plan.monthly_credits, reason: `plan_grant:${planId}`, reference: session.id, createdBy: actor });
    }
    const line = `${plan.label} plan (${planId}), 1 month`;
    const invoiceId = await this.writeInvoice(tx, org, line, [{ description: line, quantity: 1, amount_cents: plan.price_cents }]);
    return { session: completed, planChangedTo: planId, creditsGranted: plan.monthly_credits, invoiceId };
  }

  async cancelSession(tx: Transaction<ControlPlaneSchema>, session: BillingSession, actor: string): Promise<BillingSession | null> {
    const now = new Date();
    const closed = await closeOpenBillingSession(tx, session.id, 'cancelled', actor, now);
    return closed ? { ...session, status: 'cancelled', completedAt: now, completedBy: actor } : null;
  }

  async listInvoices(db: BillingDb, orgIds: readonly string[], limit?: number): Promise<Invoice[]> {
    return (await listInvoicesOfOrgs(db, orgIds, limit)).map(toInvoice);
  }

  async listLedger(db: BillingDb, orgId: string, limit: number): Promise<LedgerEntry[]> {
    return (await listLedgerOfOrg(db, orgId, limit)).map(toLedgerEntry);
  }

  /**
   * A paid invoice numbered per org: `<SLUG>-0001`, `<SLUG>-0002`, … The org row is locked by the caller, so two
   * confirmations for one org cannot draw the same number; live slugs are unique and a purged org's invoices go
   * with it, so numbers are unique across orgs too.
   */
  private async writeInvoice(tx: Transaction<ControlPlaneSchema>, org: OrgRow, description: string, lines: InvoiceLine[]): Promise<string> {
    const id = newId('invoice');
    const sequence = (await countInvoicesOfOrg(tx, org.id)) + 1;
    await insertInvoice(tx, {
      id,
      org_id: org.id,
      number: `${org.slug.toUpperCase()}-${String(sequence).padStart(4, '0')}`,
      description,
      amount_cents: lines.reduce((sum, l) => sum + l.amount_cents, 0),
      currency: BILLING_CURRENCY,
      lines,
      paid_at: new Date(),
    });
    return id;
  }
}

const date = (d: Date | string) => new Date(d);

function toSession(row: BillingSessionRow, now: Date): BillingSession {
  const expiresAt = date(row.expires_at);
  return {
    id: row.id,
    orgId: row.org_id,
    orgSlug: row.org_slug,
    kind: row.kind,
    plan: row.plan,
    credits: row.credits === null ? null : Number(row.credits),
    amountCents: row.amount_cents === null ? null : Number(row.amount_cents),
    currency: BILLING_CURRENCY,
    status: row.status === 'pending' && expiresAt <= now ? 'expired' : row.status,
    successUrl: row.success_url,
    cancelUrl: row.cancel_url,
    returnUrl: row.return_url,
    createdBy: row.created_by,
    createdAt: date(row.created_at),
    expiresAt,
    completedAt: row.completed_at === null ? null : date(row.completed_at),
    completedBy: row.completed_by,
  };
}

function toInvoice(row: InvoiceRow): Invoice {
  const lines = (typeof row.lines === 'string' ? JSON.parse(row.lines) : row.lines) as InvoiceLine[];
  return {
    id: row.id,
    orgId: row.org_id,
    orgSlug: row.org_slug,
    number: row.number,
    description: row.description,
    amountCents: Number(row.amount_cents),
    currency: row.currency,
    status: row.status,
    lines: lines.map((l) => ({ description: l.description, quantity: Number(l.quantity), amount_cents: Number(l.amount_cents) })),
    createdAt: date(row.created_at),
    paidAt: row.paid_at === null ? null : date(row.paid_at),
  };
}

function toLedgerEntry(row: LedgerRow): LedgerEntry {
  return {
    id: row.id,
    delta: Number(row.delta),
    balanceAfter: Number(row.balance_after),
    reason: row.reason,
    reference: row.reference,
    createdBy: row.created_by,
    createdAt: date(row.created_at),
  };
}
