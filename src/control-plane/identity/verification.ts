import type { Transaction } from 'kysely';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { hashCredential, isWellFormed, mintCredential } from '../../core/credentials/format.js';
import { DomainError } from '../../core/errors.js';
import type { ControlPlaneContext } from '../context.js';
import type { ControlPlaneSchema } from '../db/schema.js';
import { deleteEmailVerifications, findEmailVerification, insertEmailVerification, markEmailVerified, normalizeEmail, takeEmailVerification } from './store.js';

/**
 * Email verification links. A link carries a random `molv_…` token (stored as its sha256 only) and proves one
 * address for one account: it works once, until EMAIL_VERIFICATION_TTL_HOURS pass, only in a session of the account
 * it was issued to, and only while the account still has the address it was issued for. Bound to the session so a
 * link that reaches someone else — the real owner of an address an attacker signed up with, clicking a mail they
 * did not ask for — verifies nothing for the attacker.
 */

export interface IssuedVerification {
  userId: string;
  email: string;
  /** The plaintext token: it goes into the link and nowhere else. */
  token: string;
  expiresAt: Date;
}

/** Issues a link for the user's current address inside the caller's transaction; older links of the user stop working. */
export async function issueEmailVerification(tx: Transaction<ControlPlaneSchema>, ctx: ControlPlaneContext, user: { id: string; email: string }): Promise<IssuedVerification> {
  const minted = mintCredential('emailVerification');
  const expiresAt = new Date(Date.now() + ctx.config.EMAIL_VERIFICATION_TTL_HOURS * 3600_000);
  await deleteEmailVerifications(tx, user.id);
  await insertEmailVerification(tx, { tokenHash: minted.hash, userId: user.id, email: user.email, expiresAt });
  return { userId: user.id, email: normalizeEmail(user.email), token: minted.plaintext, expiresAt };
}

/** The link: the CP's confirmation page (a GET of it changes nothing; its form's POST verifies). */
export function verificationLink(ctx: ControlPlaneContext, token: string): string {
  return `${ctx.publicUrl}/auth/confirm-email?token=${encodeURIComponent(token)}`;
}

/** Sends an issued link (after its transaction committed) through the configured mail transport. */
export async function sendEmailVerification(ctx: ControlPlaneContext, issued: IssuedVerification): Promise<void> {
  await ctx.mailer.send({
    kind: 'email-verification',
    to: issued.email,
    userId: issued.userId,
    subject: 'Verify your email address for Molecule',
    link: verificationLink(ctx, issued.token),
    expiresAt: issued.expiresAt,
  });
}

/** Every way a link can be unusable gets this one answer, so the endpoint tells a guesser nothing. */
function unusableLink(): DomainError {
  return new DomainError(
    'EMAIL_VERIFICATION_INVALID',
    'this verification link is invalid, expired, already used, issued for another address or not for the account you are signed in as; ' +
      'sign in as the account it was sent to, or request a new one (POST /api/v1/auth/verify-email/request)',
  );
}

/** Read-only: the address a live link of this user would verify (the link's page shows it; a prefetch changes nothing). */
export async function checkEmailVerification(ctx: ControlPlaneContext, userId: string, token: string): Promise<{ email: string }> {
  if (!isWellFormed('emailVerification', token)) throw unusableLink();
  const link = await findEmailVerification(ctx.db, hashCredential(token), userId, new Date());
  if (!link) throw unusableLink();
  return { email: link.email };
}

/**
 * Uses a link: in one transaction the link is taken (deleted: single use), the address marked verified if the
 * account still has it, the user's other links retired and the request's audit event written. A link for an
 * address the account no longer has is consumed and refused.
 */
export async function verifyEmail(ctx: ControlPlaneContext, userId: string, token: string, audit: AuditEventInput): Promise<{ email: string }> {
  if (!isWellFormed('emailVerification', token)) throw unusableLink();
  const tokenHash = hashCredential(token);
  const verified = await ctx.db.transaction().execute(async (tx) => {
    const now = new Date();
    const link = await takeEmailVerification(tx, tokenHash, userId, now);
    if (!link) return null;
    const user = await markEmailVerified(tx, userId, link.email, now);
    if (!user) return null;
    await deleteEmailVerifications(tx, userId);
    await appendAuditEvents(tx, [audit]);
    return user;
  });
  if (!verified) throw unusableLink();
  return { email: verified.email };
}
