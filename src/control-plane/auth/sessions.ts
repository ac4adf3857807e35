import type { Kysely, Transaction } from 'kysely';
import { hashCredential, isWellFormed } from '../../core/credentials/format.js';
import { serializeCookie } from '../../core/http/cookies.js';
import { publicUrlOf, type ControlPlaneConfig } from '../config.js';
import type { ControlPlaneSchema } from '../db/schema.js';

/** The cookie name the reference uses; tenants forward it to /cp/auth/tenant-member. */
export const SESSION_COOKIE = 'mcp_session';

export interface SessionUser {
  sessionId: string;
  userId: string;
  email: string;
  name: string | null;
  termsVersion: string | null;
  /** Whether `email` has been proven (users.email_verified_at), read with the session on every request. */
  emailVerified: boolean;
}

/** One indexed equality on the hash over live rows; a malformed value never reaches the database. */
export async function findSession(db: Kysely<ControlPlaneSchema>, plaintext: string): Promise<SessionUser | null> {
  if (!isWellFormed('session', plaintext)) return null;
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.id as session_id', 'sessions.expires_at', 'users.id as user_id', 'users.email', 'users.name', 'users.terms_version', 'users.email_verified_at'])
    .where('sessions.token_hash', '=', hashCredential(plaintext))
    .where('sessions.revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row || new Date(row.expires_at).getTime() <= Date.now()) return null;
  return {
    sessionId: row.session_id,
    userId: row.user_id,
    email: row.email,
    name: row.name,
    termsVersion: row.terms_version,
    emailVerified: row.email_verified_at !== null,
  };
}

export async function revokeSession(db: Kysely<ControlPlaneSchema> | Transaction<ControlPlaneSchema>, sessionId: string): Promise<void> {
  await db.updateTable('sessions').set({ revoked_at: new Date() }).where('id', '=', sessionId).where('revoked_at', 'is', null).execute();
}

/**
 * `mcp_session`: HttpOnly, SameSite=Lax, Secure when the CP is served over https, and scoped to TENANT_DOMAIN
 * when one is configured so `<slug>.<domain>` tenants receive it (reference §3.1).
 */
export function sessionCookie(config: ControlPlaneConfig, value: string, maxAgeSeconds: number): string {
  return serializeCookie(SESSION_COOKIE, value, {
    maxAgeSeconds,
    secure: publicUrlOf(config).startsWith('https:'),
    domain: config.TENANT_DOMAIN,
  });
}

export function clearedSessionCookie(config: ControlPlaneConfig): string {
  return sessionCookie(config, '', 0);
}

/**
 * Deletes sessions that can never be used again — expired or revoked more than `graceMs` ago — abandoned OIDC
 * login states, expired email verification links and expired device authorizations, so the tables (and the live-hash index) stay proportional to
 * real use. Returns how many went.
 */
export async function sweepSessions(
  db: Kysely<ControlPlaneSchema>,
  now = new Date(),
  graceMs = 24 * 3600_000,
): Promise<{ sessions: number; oidcStates: number; emailVerifications: number; deviceAuthorizations: number }> {
  const cutoff = new Date(now.getTime() - graceMs);
  const sessions = await db
    .deleteFrom('sessions')
    .where((eb) => eb.or([eb('expires_at', '<', cutoff), eb('revoked_at', '<', cutoff)]))
    .executeTakeFirst();
  const states = await db.deleteFrom('oidc_states').where('expires_at', '<', now).executeTakeFirst();
  const links = await db.deleteFrom('email_verifications').where('expires_at', '<', now).executeTakeFirst();
  const devices = await db.deleteFrom('device_authorizations').where('expires_at', '<', now).executeTakeFirst();
  return {
    sessions: Number(sessions.numDeletedRows),
    oidcStates: Number(states.numDeletedRows),
    emailVerifications: Number(links.numDeletedRows),
    deviceAuthorizations: Number(devices.numDeletedRows),
  };
}

/** Runs `sweepSessions` every `intervalMs` in the background; the returned function stops it. */
export function startSessionSweeper(db: Kysely<ControlPlaneSchema>, log: { warn(obj: unknown, msg: string): void }, intervalMs = 3600_000): () => void {
  const timer = setInterval(() => {
    sweepSessions(db).catch((err: unknown) => log.warn({ err: { message: (err as Error).message } }, 'session sweep failed; retrying next interval'));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
