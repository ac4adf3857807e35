import { sql, type Transaction } from 'kysely';
import { newId } from '../../core/ids.js';
import type { ControlPlaneSchema, PlanId } from '../db/schema.js';
import { isPaidPlan, PLANS } from './plans.js';
import type { BillingProvider } from './provider.js';

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

/** The built-in self-hosted billing backend (`BILLING_PROVIDER=ledger`). */
export class LedgerBillingProvider implements BillingProvider {
  readonly name = 'ledger';

  async initializeOrg(tx: Transaction<ControlPlaneSchema>, org: { id: string; plan: PlanId }, actor: string) {
    if (isPaidPlan(org.plan)) {
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
    return 'provisioning' as const;
  }
}
