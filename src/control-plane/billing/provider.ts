import type { Kysely, Transaction } from 'kysely';
import type { AuditEventInput } from '../../core/audit/chain.js';
import type { BillingSessionKind, BillingSessionsTable, ControlPlaneSchema, InvoiceLine, PlanId } from '../db/schema.js';
import type { OrgRow } from '../orgs/store.js';

/**
 * The billing backend behind /billing/* (reference §2.3). The built-in `ledger` backend keeps plans, credits and
 * invoices in the control plane's own database; a payment-processor backend would implement the same calls.
 *
 * Every change goes through a *billing session*: a checkout (plan change), a top-up (credits) or a portal visit,
 * each with a page the user is sent to. Completing a session applies its change; the backend decides what
 * completes it (the ledger: an owner confirming on our page; a processor: its payment webhook). Methods that take
 * a transaction run inside the caller's, which also writes the request's audit event and any org status change.
 */
export interface BillingProvider {
  readonly name: string;
  /**
   * Called inside the org-creation transaction: sets the org's starting plan, credit grant and first ledger entry.
   * Returns the status the new org starts in (`awaiting_payment` for a paid plan not yet paid for). An org a partner key
   * creates is invoiced to the partner (`invoicedToPartner`): it starts on its plan at once, with no checkout.
   */
  initializeOrg(tx: Transaction<ControlPlaneSchema>, org: { id: string; plan: PlanId; invoicedToPartner?: boolean }, actor: string): Promise<'provisioning' | 'awaiting_payment'>;
  /** Opens a session and prices it; the user is sent to `url`. */
  openSession(tx: Transaction<ControlPlaneSchema>, request: BillingSessionRequest, actor: string): Promise<OpenedBillingSession>;
  /** One session, with its org's slug; a pending session past its expiry reads as `expired`. */
  findSession(db: BillingDb, id: string): Promise<BillingSession | undefined>;
  /** Records that a pending session has run out of time (no-op for any other). */
  expireSession(db: BillingDb, id: string): Promise<void>;
  /**
   * Completes a still-open session and applies its change to the org, which the caller has locked (`org` is that
   * locked row). Null when the session was no longer open: it was completed, cancelled or expired meanwhile.
   */
  completeSession(tx: Transaction<ControlPlaneSchema>, session: BillingSession, org: OrgRow, actor: string): Promise<CompletedBillingSession | null>;
  /** Cancels a still-open session; nothing else changes. Null when it was no longer open. */
  cancelSession(tx: Transaction<ControlPlaneSchema>, session: BillingSession, actor: string): Promise<BillingSession | null>;
  /** Invoices of the given orgs, newest first. */
  listInvoices(db: BillingDb, orgIds: readonly string[], limit?: number): Promise<Invoice[]>;
  /** An org's most recent credit ledger entries, newest first. */
  listLedger(db: BillingDb, orgId: string, limit: number): Promise<LedgerEntry[]>;
}

export type BillingDb = Kysely<ControlPlaneSchema>;
export type { AuditEventInput };

export type BillingSessionStatus = BillingSessionsTable['status'];

/** What a session is for. A `plan` of `free` is a downgrade (reached from the portal; nothing to pay). */
export type BillingSessionRequest = {
  orgId: string;
  /** The control plane's public URL: backends whose pages are ours build the session's URL from it. */
  publicUrl: string;
} & (
  | { kind: 'checkout'; plan: PlanId; successUrl: string; cancelUrl: string }
  | { kind: 'topup'; credits: number; successUrl: string | null; cancelUrl: string | null }
  | { kind: 'portal'; returnUrl: string }
);

export interface OpenedBillingSession {
  id: string;
  url: string;
  expiresAt: Date;
}

export interface BillingSession {
  id: string;
  orgId: string;
  orgSlug: string;
  kind: BillingSessionKind;
  plan: PlanId | null;
  credits: number | null;
  amountCents: number | null;
  currency: string;
  status: BillingSessionStatus;
  successUrl: string | null;
  cancelUrl: string | null;
  returnUrl: string | null;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  completedAt: Date | null;
  completedBy: string | null;
}

export interface CompletedBillingSession {
  session: BillingSession;
  /** The plan the org moved to, when the session changed it. */
  planChangedTo: PlanId | null;
  /** Credits added to the balance (a plan's monthly grant or a top-up); 0 when none. */
  creditsGranted: number;
  /** The paid invoice written for it; null when nothing was charged (a downgrade to free). */
  invoiceId: string | null;
}

export interface Invoice {
  id: string;
  orgId: string;
  orgSlug: string;
  number: string;
  description: string;
  amountCents: number;
  currency: string;
  status: 'paid' | 'open' | 'void';
  lines: InvoiceLine[];
  createdAt: Date;
  paidAt: Date | null;
}

export interface LedgerEntry {
  id: string;
  delta: number;
  balanceAfter: number;
  reason: string;
  reference: string | null;
  createdBy: string;
  createdAt: Date;
}
