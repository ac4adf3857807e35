import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import type { Principal } from '../../core/auth/principal.js';
import { DomainError } from '../../core/errors.js';
import type { ControlPlaneContext } from '../context.js';
import type { MemberRole, PlanId } from '../db/schema.js';
import { safeReturnTo } from '../identity/return-to.js';
import { requireOrgRole } from '../orgs/access.js';
import { presentOrg } from '../orgs/present.js';
import { setOrgStatus, startProvisioning } from '../orgs/service.js';
import type { OrgRow } from '../orgs/store.js';
import { isPaidPlan, PLANS } from './plans.js';
import type { BillingSession, BillingSessionRequest, Invoice, LedgerEntry, OpenedBillingSession } from './provider.js';
import type { BillingSessionOutcome } from './schemas.js';
import { findOrgById, getOrgById, lockOrg, orgIdsWithRole } from './store.js';

/**
 * Billing as the routes and pages see it: who may do what, which return URLs are acceptable, and each change in
 * one transaction with the request's audit event. The backend (`ctx.billing`) prices and applies the changes.
 *
 * Roles: an org owner or admin may open a checkout, top-up or portal session and read invoices; any member may
 * look at a session; only an owner may confirm or cancel one, because confirming spends the org's money.
 */

type Member = OrgRow & { role: MemberRole };

/** Invoices, checkouts, top-ups and the portal: owners and admins. */
const MANAGE: MemberRole = 'admin';
/** Confirming or cancelling a session: owners only. */
const CONFIRM: MemberRole = 'owner';

/** A return URL from the body, if it is safe to send a browser to (no open redirects); else 400 naming the field. */
export function safeReturnUrl(ctx: ControlPlaneContext, field: string, value: string): string {
  const safe = safeReturnTo(value, ctx.publicUrl, ctx.config.TENANT_DOMAIN);
  if (safe) return safe;
  const scheme = new URL(ctx.publicUrl).protocol.replace(':', '');
  const where = ctx.config.TENANT_DOMAIN ? `this site or a tenant host (*.${ctx.config.TENANT_DOMAIN})` : 'this site';
  const message = `${field} must be a path on this site or a ${scheme} URL on ${where}`;
  throw new DomainError('VALIDATION_FAILED', message, { detail: message, fields: [field], field });
}

/** A stored return target (a path or an absolute URL) as an absolute URL. */
function absoluteUrl(ctx: ControlPlaneContext, target: string | null): string | null {
  return target === null ? null : new URL(target, ctx.publicUrl).toString();
}

function refuseSamePlan(org: OrgRow, plan: PlanId): void {
  if (org.plan === plan) {
    throw new DomainError('PLAN_UNCHANGED', `org "${org.slug}" is already on the ${PLANS[plan].label} plan (${plan}); choose another plan`, { plan });
  }
}

async function openSession(ctx: ControlPlaneContext, request: BillingSessionRequest, actor: string, audit: AuditEventInput): Promise<OpenedBillingSession> {
  return ctx.db.transaction().execute(async (tx) => {
    const opened = await ctx.billing.openSession(tx, request, actor);
    await appendAuditEvents(tx, [audit]);
    return opened;
  });
}

export interface CheckoutInput {
  org_slug: string;
  plan: PlanId;
  success_url: string;
  cancel_url: string;
}

export async function startCheckout(ctx: ControlPlaneContext, principal: Principal, input: CheckoutInput, audit: AuditEventInput) {
  const org = await requireOrgRole(ctx, principal, input.org_slug, MANAGE, 'start a checkout');
  const successUrl = safeReturnUrl(ctx, 'success_url', input.success_url);
  const cancelUrl = safeReturnUrl(ctx, 'cancel_url', input.cancel_url);
  refuseSamePlan(org, input.plan);
  return openSession(ctx, { kind: 'checkout', orgId: org.id, publicUrl: ctx.publicUrl, plan: input.plan, successUrl, cancelUrl }, principal.actor, audit);
}

export interface TopupInput {
  org_slug: string;
  credits: number;
  success_url?: string | undefined;
  cancel_url?: string | undefined;
}

export async function startTopup(ctx: ControlPlaneContext, principal: Principal, input: TopupInput, audit: AuditEventInput) {
  const org = await requireOrgRole(ctx, principal, input.org_slug, MANAGE, 'buy credits');
  const successUrl = input.success_url === undefined ? null : safeReturnUrl(ctx, 'success_url', input.success_url);
  const cancelUrl = input.cancel_url === undefined ? null : safeReturnUrl(ctx, 'cancel_url', input.cancel_url);
  return openSession(ctx, { kind: 'topup', orgId: org.id, publicUrl: ctx.publicUrl, credits: input.credits, successUrl, cancelUrl }, principal.actor, audit);
}

export async function openPortal(ctx: ControlPlaneContext, principal: Principal, input: { org_slug: string; return_url: string }, audit: AuditEventInput) {
  const org = await requireOrgRole(ctx, principal, input.org_slug, MANAGE, 'open the billing portal');
  const returnUrl = safeReturnUrl(ctx, 'return_url', input.return_url);
  return openSession(ctx, { kind: 'portal', orgId: org.id, publicUrl: ctx.publicUrl, returnUrl }, principal.actor, audit);
}

/**
 * A billing session as the caller may see it. Unknown, or of an org the caller is not a member of: 404 either
 * way, so a session id reveals nothing; a member whose role is too small for `action`: 403.
 */
export async function billingSessionFor(
  ctx: ControlPlaneContext,
  principal: Principal,
  id: string,
  need: MemberRole,
  action: string,
): Promise<{ session: BillingSession; org: Member }> {
  const session = await ctx.billing.findSession(ctx.db, id);
  if (!session) throw new DomainError('BILLING_SESSION_NOT_FOUND', undefined, { id });
  try {
    const org = await requireOrgRole(ctx, principal, session.orgSlug, need, action);
    return { session, org };
  } catch (err) {
    if (err instanceof DomainError && err.code === 'ORG_NOT_FOUND') throw new DomainError('BILLING_SESSION_NOT_FOUND', undefined, { id });
    throw err;
  }
}

/** Refuses a session that is no longer open; one found expired is recorded as such on the way. */
async function assertOpen(ctx: ControlPlaneContext, session: BillingSession): Promise<void> {
  if (session.status === 'pending') return;
  if (session.status === 'expired') await ctx.billing.expireSession(ctx.db, session.id);
  throw closedError(session.id, session.status);
}

function closedError(id: string, status: string): DomainError {
  return new DomainError('BILLING_SESSION_CLOSED', `billing session ${id} is ${status}; start a new one`, { id, status });
}

/**
 * Confirms a checkout or top-up: the backend applies it (plan, credits, invoice) under a lock on the org row; a
 * paid plan bought by an org awaiting payment moves it to `provisioning` in the same transaction, and its tenant
 * is provisioned after commit. Of two concurrent confirmations, one applies and the other gets 409.
 */
export async function confirmBillingSession(ctx: ControlPlaneContext, principal: Principal, id: string, audit: AuditEventInput): Promise<BillingSessionOutcome> {
  const { session, org: member } = await billingSessionFor(ctx, principal, id, CONFIRM, 'confirm billing changes');
  await assertOpen(ctx, session);
  const { org, provision } = await ctx.db.transaction().execute(async (tx) => {
    const locked = await lockOrg(tx, session.orgId);
    if (!locked) throw new DomainError('BILLING_SESSION_NOT_FOUND', undefined, { id });
    const done = await ctx.billing.completeSession(tx, session, locked, principal.actor);
    if (!done) throw closedError(id, 'no longer pending');
    let provision = false;
    if (done.planChangedTo && isPaidPlan(done.planChangedTo) && locked.status === 'awaiting_payment') {
      await setOrgStatus(tx, locked.id, 'provisioning', ctx.provisioner.name);
      provision = true;
    }
    await appendAuditEvents(tx, [audit]);
    return { org: await getOrgById(tx, locked.id), provision };
  });
  let current = org;
  if (provision) {
    await startProvisioning(ctx, org);
    current = (await findOrgById(ctx.db, org.id)) ?? org;
  }
  return { status: 'completed', redirect_url: absoluteUrl(ctx, session.successUrl ?? session.returnUrl), organization: presentOrg(current, member.role) };
}

/** Cancels a session: nothing about the org changes. */
export async function cancelBillingSession(ctx: ControlPlaneContext, principal: Principal, id: string, audit: AuditEventInput): Promise<BillingSessionOutcome> {
  const { session, org: member } = await billingSessionFor(ctx, principal, id, CONFIRM, 'cancel billing changes');
  await assertOpen(ctx, session);
  await ctx.db.transaction().execute(async (tx) => {
    const cancelled = await ctx.billing.cancelSession(tx, session, principal.actor);
    if (!cancelled) throw closedError(id, 'no longer pending');
    await appendAuditEvents(tx, [audit]);
  });
  const org = (await findOrgById(ctx.db, session.orgId)) ?? member;
  return { status: 'cancelled', redirect_url: absoluteUrl(ctx, session.cancelUrl ?? session.returnUrl), organization: presentOrg(org, member.role) };
}

/** Invoices of one org (owner or admin), or of every org where the caller is owner or admin. */
export async function listInvoicesFor(ctx: ControlPlaneContext, principal: Principal, orgSlug: string | undefined): Promise<Invoice[]> {
  if (orgSlug !== undefined) {
    const org = await requireOrgRole(ctx, principal, orgSlug, MANAGE, 'read invoices');
    return ctx.billing.listInvoices(ctx.db, [org.id]);
  }
  if (!principal.userId) throw new DomainError('SESSION_REQUIRED');
  return ctx.billing.listInvoices(ctx.db, await orgIdsWithRole(ctx.db, principal.userId, ['owner', MANAGE]));
}

export interface PortalView {
  session: BillingSession;
  org: Member;
  ledger: LedgerEntry[];
  invoices: Invoice[];
}

const PORTAL_LEDGER_ROWS = 20;
const PORTAL_INVOICE_ROWS = 20;

/** What the portal page shows: the org's plan and balance, its recent ledger and invoices (owners and admins). */
export async function portalView(ctx: ControlPlaneContext, principal: Principal, id: string): Promise<PortalView> {
  const { session, org } = await billingSessionFor(ctx, principal, id, MANAGE, 'open the billing portal');
  if (session.kind !== 'portal') throw new DomainError('BILLING_SESSION_NOT_FOUND', undefined, { id });
  const [ledger, invoices] = await Promise.all([
    ctx.billing.listLedger(ctx.db, org.id, PORTAL_LEDGER_ROWS),
    ctx.billing.listInvoices(ctx.db, [org.id], PORTAL_INVOICE_ROWS),
  ]);
  return { session, org, ledger, invoices };
}

/**
 * A plan switch chosen on the portal page: a checkout session (a downgrade to `free` included) that comes back
 * to the portal page whether it is confirmed or cancelled. It is confirmed on the same page as any checkout.
 */
export async function switchPlanFromPortal(ctx: ControlPlaneContext, principal: Principal, portalId: string, plan: PlanId, audit: AuditEventInput) {
  const { session, org } = await billingSessionFor(ctx, principal, portalId, MANAGE, 'change the plan');
  if (session.kind !== 'portal') throw new DomainError('BILLING_SESSION_NOT_FOUND', undefined, { id: portalId });
  await assertOpen(ctx, session);
  refuseSamePlan(org, plan);
  const back = `/billing/portal/${session.id}`;
  return openSession(ctx, { kind: 'checkout', orgId: org.id, publicUrl: ctx.publicUrl, plan, successUrl: back, cancelUrl: back }, principal.actor, audit);
}
