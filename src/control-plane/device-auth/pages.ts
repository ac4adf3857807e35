import type { FastifyRequest } from 'fastify';
import { DomainError } from '../../core/errors.js';
import { escapeHtml, paragraph } from '../billing/html.js';
import type { ControlPlaneContext } from '../context.js';
import type { MemberRole } from '../db/schema.js';
import { API_PREFIX } from '../routes.js';
import { DEVICE_FORM_PATH, DEVICE_PAGE_PATH } from './service.js';

/**
 * The approval page's pieces (GET /device/form, POST /device, POST /device/sign-in: the no-JS fallback of the console's `/device` page): small, escaped HTML without any script, sent
 * through the billing pages' `sendPage` (its CSP allows nothing but that page's one hashed style block).
 */

export const SIGN_IN_PATH = `${DEVICE_PAGE_PATH}/sign-in`;
export const SIGN_IN_TITLE = 'Sign in required';
export const APPROVE_TITLE = 'Connect a device';

function origin(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/**
 * CSRF defence of the device forms, stricter than the other pages': the browser must say where the form came from
 * (`Origin`, else `Referer`), and it must be the CP's own origin — not a tenant host, which serves content of its own.
 * Browsers send Origin on every form POST; a request that names no origin at all is not a form of ours and is
 * refused too (the approval hands out a session, so "no header: not a browser" is not good enough here).
 */
export function assertDeviceFormOrigin(ctx: ControlPlaneContext, request: FastifyRequest): void {
  const own = origin(ctx.publicUrl);
  const claimed = request.headers.origin ?? (typeof request.headers.referer === 'string' ? origin(request.headers.referer) ?? 'an unreadable Referer' : undefined);
  if (claimed === undefined) throw new DomainError('ORIGIN_FORBIDDEN', 'request refused: the form did not say where it came from (no Origin or Referer header); submit it from the page');
  if (claimed !== own) throw new DomainError('ORIGIN_FORBIDDEN', `cross-site form refused: origin ${claimed} is not allowed`);
}

const codeInput = (userCode: string | null) =>
  `<p><label>Code shown by your device<br><input name="user_code" required maxlength="20" autocomplete="off" autocapitalize="characters" spellcheck="false" value="${escapeHtml(userCode ?? '')}"></label></p>`;

/** No session: email and password, posted to the sign-in route, which comes back to this page with the code. */
export function signInBody(ctx: ControlPlaneContext, userCode: string | null, error?: string): string {
  const back = userCode ? `${DEVICE_FORM_PATH}?user_code=${encodeURIComponent(userCode)}` : DEVICE_FORM_PATH;
  let html = error ? paragraph(error, 'error') : '';
  html += paragraph('Sign in to Molecule to approve the device that is asking to use your account.');
  html +=
    `<form method="post" action="${escapeHtml(SIGN_IN_PATH)}">` +
    (userCode ? `<input type="hidden" name="user_code" value="${escapeHtml(userCode)}">` : '') +
    '<p><label>Email<br><input type="email" name="email" required autocomplete="username"></label></p>' +
    '<p><label>Password<br><input type="password" name="password" required autocomplete="current-password"></label></p>' +
    '<button class="primary" type="submit">Sign in</button></form>';
  if (ctx.oidc) {
    html += `<p><a href="${escapeHtml(`${API_PREFIX}/auth/login?return_to=${encodeURIComponent(back)}`)}">Sign in with your identity provider</a></p>`;
  }
  return html;
}

/** Signed in, no (usable) code yet: the code field alone. */
export function codeEntryBody(userCode: string | null, error?: string): string {
  return (
    (error ? paragraph(error, 'error') : '') +
    paragraph('Enter the code your device shows (for example in the terminal where you ran `molecule auth login`).') +
    `<form method="get" action="${escapeHtml(DEVICE_FORM_PATH)}">${codeInput(userCode)}<button class="primary" type="submit">Continue</button></form>`
  );
}

const time = (d: Date) => `<time datetime="${d.toISOString()}">${escapeHtml(d.toISOString().replace('T', ' ').slice(0, 19))} UTC</time>`;

/** Signed in with a live code: who asks, when, an optional org, and the two decisions. */
export function approvalBody(
  pending: { client_name: string; client_ip: string | null; created_at: Date | string },
  userCode: string,
  signedInAs: string,
  orgs: ReadonlyArray<{ slug: string; name: string; role: MemberRole }>,
  error?: string,
): string {
  const rows: Array<[string, string]> = [
    ['Code', escapeHtml(userCode)],
    ['Device', escapeHtml(pending.client_name)],
    ['Asked at', time(new Date(pending.created_at))],
    ['From address', escapeHtml(pending.client_ip ?? 'unknown')],
    ['Signed in as', escapeHtml(signedInAs)],
  ];
  const options =
    '<option value="">No particular organization</option>' +
    orgs.map((o) => `<option value="${escapeHtml(o.slug)}">${escapeHtml(`${o.name} (${o.slug}, ${o.role})`)}</option>`).join('');
  return (
    (error ? paragraph(error, 'error') : '') +
    paragraph('A device is asking to sign in to Molecule as you. Approve only if you started this yourself and the code matches the one your device shows.') +
    `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`).join('')}</dl>` +
    `<form method="post" action="${escapeHtml(DEVICE_PAGE_PATH)}">` +
    `<input type="hidden" name="user_code" value="${escapeHtml(userCode)}">` +
    `<p><label>Organization for the device to use<br><select name="org_slug">${options}</select></label></p>` +
    '<button class="primary" type="submit" name="decision" value="approve">Approve</button>' +
    '<button type="submit" name="decision" value="deny">Deny</button></form>'
  );
}
