import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { ControlPlaneContext } from '../context.js';
import type { MemberRole, PlanId } from '../db/schema.js';
import type { OrgRow } from '../orgs/store.js';
import { formatCents, PLAN_ORDER, PLANS } from './plans.js';
import type { BillingSession, Invoice, LedgerEntry } from './provider.js';

/**
 * The billing pages of ours (confirmation and portal): small, dependency-free HTML. Every value is escaped; there
 * is no script at all, and the one style block is allowed by its hash, so the page's CSP stays strict.
 */

export function escapeHtml(value: string | number): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = [
  'body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}',
  'main{max-width:44rem;margin:3rem auto;padding:2rem;background:#fff;border:1px solid #dde1e7;border-radius:8px}',
  'h1{font-size:1.4rem;margin:0 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}',
  'dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1.2rem}dt{color:#5b6475}dd{margin:0}',
  'table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eceff3}',
  'form{display:inline-block;margin:.3rem .5rem .3rem 0}button{font:inherit;padding:.45rem 1rem;border-radius:6px;border:1px solid #aab2c0;background:#fff;cursor:pointer}',
  'button.primary{background:#2457d6;border-color:#2457d6;color:#fff}.note{color:#5b6475}.error{color:#a3261b}',
].join('');
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/**
 * The pages' policy: nothing loads but the hashed style; forms post only to us, or — through the 303 that follows
 * a form — to a return URL, which safeReturnTo limits to this site and tenant hosts.
 */
export function pageCsp(ctx: ControlPlaneContext): string {
  const scheme = new URL(ctx.publicUrl).protocol;
  const tenant = ctx.config.TENANT_DOMAIN;
  const formTargets = ["'self'", ...(tenant ? [`${scheme}//${tenant}`, `${scheme}//*.${tenant}`] : [])].join(' ');
  return `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action ${formTargets}; frame-ancestors 'none'; base-uri 'none'`;
}

export function sendPage(reply: FastifyReply, ctx: ControlPlaneContext, status: number, title: string, body: string) {
  const html =
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<meta name="robots" content="noindex"><title>${escapeHtml(title)} · Molecule</title><style>${STYLE}</style></head>` +
    `<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>\n`;
  return reply.code(status).header('content-security-policy', pageCsp(ctx)).type('text/html; charset=utf-8').send(html);
}

export function paragraph(text: string, className?: string): string {
  return `<p${className ? ` class="${className}"` : ''}>${escapeHtml(text)}</p>`;
}

function link(href: string, text: string): string {
  return `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`;
}

function planName(plan: PlanId): string {
  return `${PLANS[plan].label} (${plan})`;
}

const count = (n: number) => n.toLocaleString('en-US');
const time = (d: Date) => `<time datetime="${d.toISOString()}">${escapeHtml(d.toISOString().replace('T', ' ').slice(0, 16))} UTC</time>`;

/** The heading of a confirmation page. */
export function confirmTitle(session: BillingSession): string {
  if (session.kind === 'topup') return `Buy ${count(session.credits ?? 0)} credits`;
  if (session.plan === 'free') return 'Switch to the Free plan';
  return `Subscribe to the ${session.plan ? PLANS[session.plan].label : ''} plan`;
}

/** The confirmation page: what the session changes, what it costs, and — for an owner, while open — the form. */
export function confirmPageBody(session: BillingSession, org: OrgRow & { role: MemberRole }, nowOpen: boolean): string {
  const amount = session.amountCents ?? 0;
  const rows: Array<[string, string]> = [['Organization', `${escapeHtml(org.name)} (${escapeHtml(org.slug)})`]];
  if (session.kind === 'checkout' && session.plan) {
    rows.push(['Plan', `${escapeHtml(planName(org.plan))} → ${escapeHtml(planName(session.plan))}`]);
    if ((session.credits ?? 0) > 0) rows.push(['Credits granted', `${escapeHtml(count(session.credits ?? 0))} credits`]);
  } else {
    rows.push(['Credits', `${escapeHtml(count(session.credits ?? 0))} credits added to the balance (now ${escapeHtml(count(Number(org.credits_balance)))})`]);
  }
  rows.push(['Amount', amount > 0 ? `${escapeHtml(formatCents(amount))} ${escapeHtml(session.currency.toUpperCase())}` : 'nothing to pay']);
  rows.push(['Status', nowOpen ? `pending, expires ${time(session.expiresAt)}` : escapeHtml(session.status)]);
  let html = `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;

  if (!nowOpen) {
    html += paragraph(`This billing session is ${session.status}; nothing more can be done with it.`, 'note');
    const next = session.status === 'completed' ? session.successUrl : session.cancelUrl;
    if (next) html += `<p>${link(next, 'Continue')}</p>`;
    return html;
  }
  if (org.role !== 'owner') {
    return html + paragraph(`Only an owner of ${org.slug} can confirm this; your role is ${org.role}. Send this page's address to an owner.`, 'note');
  }
  const action = `/billing/confirm/${encodeURIComponent(session.id)}`;
  const label = amount > 0 ? `Confirm and pay ${formatCents(amount)}` : 'Confirm';
  return (
    html +
    `<form method="post" action="${escapeHtml(action)}">` +
    `<button class="primary" type="submit" name="decision" value="confirm">${escapeHtml(label)}</button>` +
    '<button type="submit" name="decision" value="cancel">Cancel</button></form>'
  );
}

/** The portal page: plan, balance, plan switches (while the link is open), recent ledger and invoices. */
export function portalPageBody(
  session: BillingSession,
  org: OrgRow & { role: MemberRole },
  ledger: readonly LedgerEntry[],
  invoices: readonly Invoice[],
  nowOpen: boolean,
): string {
  const plan = PLANS[org.plan];
  const rows: Array<[string, string]> = [
    ['Organization', `${org.name} (${org.slug}), ${org.status}`],
    ['Plan', `${planName(org.plan)}, ${formatCents(plan.price_cents)} a month`],
    ['Credit balance', `${count(Number(org.credits_balance))} credits`],
    ['Monthly credits', `${count(Number(org.plan_monthly_credits))} credits`],
    ['Overage', `${count(Number(org.overage_used_credits))} of ${count(Number(org.overage_cap_credits))} credits used`],
  ];
  let html = `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;

  html += '<h2>Change plan</h2>';
  if (!nowOpen) {
    html += paragraph('This portal link has expired; open the billing portal again to change the plan.', 'note');
  } else {
    const action = `/billing/portal/${encodeURIComponent(session.id)}`;
    for (const id of PLAN_ORDER) {
      if (id === org.plan) continue;
      const text = `Switch to ${planName(id)}, ${PLANS[id].price_cents > 0 ? `${formatCents(PLANS[id].price_cents)} a month` : 'no charge'}`;
      html += `<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="plan" value="${escapeHtml(id)}"><button type="submit">${escapeHtml(text)}</button></form>`;
    }
    html += paragraph('Each switch is confirmed by an org owner on the next page before anything changes.', 'note');
  }

  html += '<h2>Recent credit activity</h2>';
  html += ledger.length === 0
    ? paragraph('No credit activity yet.', 'note')
    : '<table><thead><tr><th>When</th><th>Change</th><th>Balance</th><th>Reason</th></tr></thead><tbody>' +
      ledger
        .map((e) => `<tr><td>${time(e.createdAt)}</td><td>${escapeHtml((e.delta > 0 ? '+' : '') + count(e.delta))}</td><td>${escapeHtml(count(e.balanceAfter))}</td><td>${escapeHtml(e.reason)}</td></tr>`)
        .join('') +
      '</tbody></table>';

  html += '<h2>Invoices</h2>';
  html += invoices.length === 0
    ? paragraph('No invoices yet.', 'note')
    : '<table><thead><tr><th>Number</th><th>Date</th><th>Description</th><th>Amount</th><th>Status</th></tr></thead><tbody>' +
      invoices
        .map(
          (i) =>
            `<tr><td>${escapeHtml(i.number)}</td><td>${time(i.createdAt)}</td><td>${escapeHtml(i.description)}</td><td>${escapeHtml(formatCents(i.amountCents))}</td><td>${escapeHtml(i.status)}</td></tr>`,
        )
        .join('') +
      '</tbody></table>';

  if (session.returnUrl) html += `<p>${link(session.returnUrl, 'Done: back to where you came from')}</p>`;
  return html;
}
