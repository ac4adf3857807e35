import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import { appendAuditEvents } from '../../core/audit/chain.js';
import { auditEventForReply } from '../../core/audit/request.js';
import { hashCredential, mintCredential } from '../../core/credentials/format.js';
import { newId } from '../../core/ids.js';
import type { SessionPrincipal } from '../auth/authenticator.js';
import { sessionCookie } from '../auth/sessions.js';
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

/** For tests and tools: the hash a cookie value is stored under. */
export const sessionHashOf = hashCredential;
