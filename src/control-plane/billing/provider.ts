import type { Kysely, Transaction } from 'kysely';
import type { AuditEventInput } from '../../core/audit/chain.js';
import type { ControlPlaneSchema, PlanId } from '../db/schema.js';

/**
 * The billing backend behind /billing/* (reference §2.3). The built-in `ledger` backend keeps plans, credits and
 * invoices in the control plane's own database; a payment-processor backend would implement the same calls.
 */
export interface BillingProvider {
  readonly name: string;
  /**
   * Called inside the org-creation transaction: sets the org's starting plan, credit grant and first ledger entry.
   * Returns the status the new org starts in (`awaiting_payment` for a paid plan not yet paid for).
   */
  initializeOrg(tx: Transaction<ControlPlaneSchema>, org: { id: string; plan: PlanId }, actor: string): Promise<'provisioning' | 'awaiting_payment'>;
}

export type BillingDb = Kysely<ControlPlaneSchema>;
export type { AuditEventInput };
