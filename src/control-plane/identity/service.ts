import type { FastifyReply, FastifyRequest } from 'fastify';
import { isUniqueViolation } from '../../core/db/index.js';
import { DomainError } from '../../core/errors.js';
import type { Transaction } from 'kysely';
import { appendAuditEvents } from '../../core/audit/chain.js';
import { auditEventForReply } from '../../core/audit/request.js';
import { mintCredential } from '../../core/credentials/format.js';
import { newId } from '../../core/ids.js';
import type { SessionPrincipal } from '../auth/authenticator.js';
import { sessionCookie } from '../auth/sessions.js';
import type { OidcIdentity } from './oidc.js';
import { findUserByEmail, findUserByIdentity, insertIdentity, insertUser } from './store.js';
import type { ControlPlaneContext } from '../context.js';
import type { ControlPlaneSchema, UsersTable } from '../db/schema.js';

type UserRow = Pick<UsersTable, 'id' | 'email' | 'name' | 'terms_version'>;

/**
 * Signs a user in, inside the caller's transaction: the session row (its hash only) and the request's audit event
 * are written together, then the cookie is set. The request is attributed to the new session from here on.
 */
export async function startSession(
  tx: Transaction<ControlPlaneSchema>,
  ctx: ControlPlaneContext,
  request: FastifyRequest,
  reply: FastifyReply,
  user: UserRow,
  status: number,
) {
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
    session: { sessionId: id, userId: user.id, email: user.email, name: user.name, termsVersion: user.terms_version },
  };
  request.principal = principal;
  await appendAuditEvents(tx, [auditEventForReply(reply, status)]);
  request.auditWritten = true;
  reply.header('set-cookie', sessionCookie(ctx.config, minted.plaintext, ttlSeconds));
  return { user_id: user.id, email: user.email, name: user.name, expires_at: expiresAt.toISOString() };
}

/**
 * Finds or creates the user an identity belongs to and starts their session, in one transaction with the request's
 * audit event: the linked user for (provider, sub), else a new user without a password. An identity is never joined
 * to an existing account by email, even one the provider marks verified: local sign-up does not prove the address,
 * so whoever registered it first (with a password, or through a provider that does not verify) would receive the
 * victim's sign-ins. Such a sign-in is refused with 409 and the account's own sign-in named instead.
 */
export async function signInWithOidc(ctx: ControlPlaneContext, request: FastifyRequest, reply: FastifyReply, identity: OidcIdentity): Promise<void> {
  const attempt = () =>
    ctx.db.transaction().execute(async (tx) => {
      let user = await findUserByIdentity(tx, identity.provider, identity.subject);
      if (!user) {
        if (!identity.email) {
          throw new DomainError('IDENTITY_PROVIDER_FAILED', 'the identity provider did not share an email address; allow this application to read your email there and sign in again');
        }
        const existing = await findUserByEmail(tx, identity.email);
        if (existing) {
          // users.email is unique, so a second account with this address cannot be made either.
          throw new DomainError(
            'EMAIL_TAKEN',
            'an account with this email already exists and accounts are never joined by email; sign in to it the way it was created (password or its original provider)',
          );
        }
        user = await insertUser(tx, { email: identity.email, name: identity.name, passwordHash: null });
        await insertIdentity(tx, { provider: identity.provider, subject: identity.subject, userId: user.id, email: identity.email });
      }
      await startSession(tx, ctx, request, reply, user, 302);
    });
  try {
    await attempt();
  } catch (err) {
    // A concurrent first sign-in of the same identity (or a sign-up with the same email) won the race: the second
    // attempt sees its row and signs in to the linked user (or answers 409 for the email).
    if (!isUniqueViolation(err)) throw err;
    try {
      await attempt();
    } catch (again) {
      if (isUniqueViolation(again)) throw new DomainError('CONFLICT', 'another sign-in of this account is in progress; try again');
      throw again;
    }
  }
}
