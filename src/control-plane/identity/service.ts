import type { FastifyReply, FastifyRequest } from 'fastify';
import { isUniqueViolation } from '../../core/db/index.js';
import { DomainError } from '../../core/errors.js';
import type { Selectable, Transaction } from 'kysely';
import { appendAuditEvents } from '../../core/audit/chain.js';
import { auditEventForReply } from '../../core/audit/request.js';
import { mintCredential } from '../../core/credentials/format.js';
import { newId } from '../../core/ids.js';
import type { SessionPrincipal } from '../auth/authenticator.js';
import { sessionCookie } from '../auth/sessions.js';
import type { OidcIdentity } from './oidc.js';
import {
  deleteEmailVerifications,
  findUserByIdentity,
  insertIdentity,
  insertUser,
  lockUserByEmail,
  markEmailVerified,
  normalizeEmail,
  replaceUnverifiedEmail,
  revokeUserSessions,
} from './store.js';
import type { ControlPlaneContext } from '../context.js';
import type { ControlPlaneSchema, UsersTable } from '../db/schema.js';

type UserRow = Pick<Selectable<UsersTable>, 'id' | 'email' | 'name' | 'terms_version' | 'email_verified_at'>;

/**
 * Creates a session for the user inside the caller's transaction: the session row (its hash only) and the request's
 * audit event are written together. The request is attributed to the new session from here on. Answers the
 * plaintext, which the caller hands over exactly once (the cookie, or the device flow's token response).
 */
export async function createSession(
  tx: Transaction<ControlPlaneSchema>,
  ctx: ControlPlaneContext,
  request: FastifyRequest,
  reply: FastifyReply,
  user: UserRow,
  status: number,
): Promise<{ plaintext: string; sessionId: string; ttlSeconds: number; expiresAt: Date }> {
  const minted = mintCredential('session');
  const id = newId('session');
  const ttlSeconds = ctx.config.SESSION_TTL_HOURS * 3600;
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  await tx.insertInto('sessions').values({ id, token_hash: minted.hash, user_id: user.id, expires_at: expiresAt, client_ip: request.ip }).execute();
  const principal: SessionPrincipal = {
    class: 'session',
    credentialId: id,
    displayPrefix: null,
    actor: `session:${user.id}`,
    role: 'reader',
    workspaceIds: null,
    orgId: null,
    userId: user.id,
    session: {
      sessionId: id,
      userId: user.id,
      email: user.email,
      name: user.name,
      termsVersion: user.terms_version,
      emailVerified: user.email_verified_at !== null,
    },
  };
  request.principal = principal;
  await appendAuditEvents(tx, [auditEventForReply(reply, status)]);
  request.auditWritten = true;
  return { plaintext: minted.plaintext, sessionId: id, ttlSeconds, expiresAt };
}

/** Signs a user in, inside the caller's transaction (`createSession`), then sets the session cookie. */
export async function startSession(
  tx: Transaction<ControlPlaneSchema>,
  ctx: ControlPlaneContext,
  request: FastifyRequest,
  reply: FastifyReply,
  user: UserRow,
  status: number,
) {
  const { plaintext, ttlSeconds, expiresAt } = await createSession(tx, ctx, request, reply, user, status);
  reply.header('set-cookie', sessionCookie(ctx.config, plaintext, ttlSeconds));
  return { user_id: user.id, email: user.email, name: user.name, email_verified: user.email_verified_at !== null, expires_at: expiresAt.toISOString() };
}

/**
 * The address an unverified account is left with when a verified identity reclaims its own: unique (the user id),
 * recognisably not an address, and undeliverable (`.invalid`, RFC 2606).
 */
export function reclaimedAddressOf(userId: string): string {
  return `${userId.toLowerCase()}@reclaimed.invalid`;
}

/**
 * Finds or creates the user an identity belongs to and starts their session, in one transaction with the request's
 * audit event: the linked user for (provider, sub), else a new user without a password. An identity is never joined
 * to an existing account by email: whoever registered the address first (with a password, or through a provider
 * that does not verify) would receive the victim's sign-ins.
 *
 * When the address is taken, it depends on who proved it:
 * - the existing account's address is verified, or the provider does not vouch for the identity's (`email_verified`
 *   is not `true`): 409 EMAIL_TAKEN, and the account's own sign-in is named instead;
 * - the existing account's address was never verified and the provider vouches for it: the verified identity gets
 *   the address. The unverified account keeps everything else (password, memberships, orgs) under a placeholder
 *   address (`reclaimedAddressOf`), its sessions are revoked and its pending verification links deleted, in the same
 *   transaction that creates the new account. Nothing is joined: the new account starts empty.
 *
 * An identity the provider vouches for also verifies the address of the user it is linked to, when the two match.
 */
export async function signInWithOidc(ctx: ControlPlaneContext, request: FastifyRequest, reply: FastifyReply, identity: OidcIdentity): Promise<void> {
  /** Runs the sign-in; answers the account whose address was reclaimed, if one was. */
  const attempt = () =>
    ctx.db.transaction().execute(async (tx): Promise<{ from: string; to: string } | null> => {
      const now = new Date();
      let reclaimed: { from: string; to: string } | null = null;
      let user = await findUserByIdentity(tx, identity.provider, identity.subject);
      if (user) {
        if (identity.emailVerified && identity.email && user.email_verified_at === null && normalizeEmail(identity.email) === user.email) {
          user = { ...user, email_verified_at: (await markEmailVerified(tx, user.id, user.email, now))?.email_verified_at ?? null };
          await deleteEmailVerifications(tx, user.id);
        }
      } else {
        if (!identity.email) {
          throw new DomainError('IDENTITY_PROVIDER_FAILED', 'the identity provider did not share an email address; allow this application to read your email there and sign in again');
        }
        const existing = await lockUserByEmail(tx, identity.email);
        if (existing) {
          // users.email is unique, so a second account with this address cannot be made either.
          if (existing.email_verified_at !== null || !identity.emailVerified) {
            throw new DomainError(
              'EMAIL_TAKEN',
              'an account with this email already exists and accounts are never joined by email; sign in to it the way it was created (password or its original provider)',
            );
          }
          await reclaimAddress(tx, existing.id, now);
        }
        user = await insertUser(tx, { email: identity.email, name: identity.name, passwordHash: null, emailVerified: identity.emailVerified });
        await insertIdentity(tx, { provider: identity.provider, subject: identity.subject, userId: user.id, email: identity.email });
        if (existing) reclaimed = { from: existing.id, to: user.id };
      }
      await startSession(tx, ctx, request, reply, user, 302);
      return reclaimed;
    });
  let reclaimed: { from: string; to: string } | null;
  try {
    reclaimed = await attempt();
  } catch (err) {
    // A concurrent first sign-in of the same identity (or a sign-up with the same email) won the race: the second
    // attempt sees its row and signs in to the linked user (or answers 409 for the email).
    if (!isUniqueViolation(err)) throw err;
    try {
      reclaimed = await attempt();
    } catch (again) {
      if (isUniqueViolation(again)) throw new DomainError('CONFLICT', 'another sign-in of this account is in progress; try again');
      throw again;
    }
  }
  if (reclaimed) {
    ctx.log.warn(
      { component: 'identity', provider: identity.provider, from_user_id: reclaimed.from, to_user_id: reclaimed.to },
      'a verified OpenID identity reclaimed the email address of an unverified account; that account was signed out and renamed',
    );
  }
}

/** Takes the address away from an unverified account (see `signInWithOidc`), inside the caller's transaction. */
async function reclaimAddress(tx: Transaction<ControlPlaneSchema>, userId: string, now: Date): Promise<void> {
  if (!(await replaceUnverifiedEmail(tx, userId, reclaimedAddressOf(userId), now))) {
    // Verified meanwhile (the row is locked, so only before the lock): the ordinary clash.
    throw new DomainError('EMAIL_TAKEN', 'an account with this email already exists and accounts are never joined by email');
  }
  await revokeUserSessions(tx, userId, now);
  await deleteEmailVerifications(tx, userId);
}
