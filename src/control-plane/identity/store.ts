import type { Kysely, Transaction } from 'kysely';
import { newId } from '../../core/ids.js';
import type { ControlPlaneSchema } from '../db/schema.js';

type Db = Kysely<ControlPlaneSchema> | Transaction<ControlPlaneSchema>;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export async function insertUser(db: Db, user: { email: string; name: string | null; passwordHash: string | null; emailVerified?: boolean }) {
  return db
    .insertInto('users')
    .values({
      id: newId('user'),
      email: normalizeEmail(user.email),
      name: user.name,
      password_hash: user.passwordHash,
      email_verified_at: user.emailVerified ? new Date() : null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findUserByEmail(db: Db, email: string) {
  return db.selectFrom('users').selectAll().where('email', '=', normalizeEmail(email)).executeTakeFirst();
}

export async function findUserById(db: Db, id: string) {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function acceptTerms(db: Db, userId: string, version: string) {
  return db
    .updateTable('users')
    .set({ terms_version: version, terms_accepted_at: new Date(), updated_at: new Date() })
    .where('id', '=', userId)
    .returning(['terms_version', 'terms_accepted_at'])
    .executeTakeFirstOrThrow();
}

export async function findUserByIdentity(db: Db, provider: string, subject: string) {
  return db
    .selectFrom('user_identities')
    .innerJoin('users', 'users.id', 'user_identities.user_id')
    .select(['users.id', 'users.email', 'users.name', 'users.terms_version', 'users.email_verified_at'])
    .where('user_identities.provider', '=', provider)
    .where('user_identities.subject', '=', subject)
    .executeTakeFirst();
}

export async function insertIdentity(db: Db, identity: { provider: string; subject: string; userId: string; email: string | null }) {
  await db.insertInto('user_identities').values({ provider: identity.provider, subject: identity.subject, user_id: identity.userId, email: identity.email }).execute();
}

/** The user with this address, its row locked until the transaction ends (an address changes hands under this lock). */
export async function lockUserByEmail(tx: Transaction<ControlPlaneSchema>, email: string) {
  return tx.selectFrom('users').selectAll().where('email', '=', normalizeEmail(email)).forUpdate().executeTakeFirst();
}

/** Marks the user's address verified, only while it still is `email`; keeps the first verification time. */
export async function markEmailVerified(db: Db, userId: string, email: string, now: Date) {
  return db
    .updateTable('users')
    .set((eb) => ({ email_verified_at: eb.fn.coalesce('email_verified_at', eb.val(now)), updated_at: now }))
    .where('id', '=', userId)
    .where('email', '=', normalizeEmail(email))
    .returning(['id', 'email', 'email_verified_at'])
    .executeTakeFirst();
}

/** Gives an unverified account a new (placeholder) address; false when it was verified meanwhile or is gone. */
export async function replaceUnverifiedEmail(db: Db, userId: string, email: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ email, updated_at: now })
    .where('id', '=', userId)
    .where('email_verified_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function revokeUserSessions(db: Db, userId: string, now: Date): Promise<number> {
  const result = await db.updateTable('sessions').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows);
}

// --- email verification links ---------------------------------------------------------------------------------

export async function insertEmailVerification(db: Db, link: { tokenHash: string; userId: string; email: string; expiresAt: Date }) {
  await db
    .insertInto('email_verifications')
    .values({ token_hash: link.tokenHash, user_id: link.userId, email: normalizeEmail(link.email), expires_at: link.expiresAt })
    .execute();
}

/** Every pending link of the user: a new link retires the older ones, a verified or changed address retires all. */
export async function deleteEmailVerifications(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('email_verifications').where('user_id', '=', userId).execute();
}

/**
 * The user's live link with this hash, deleted in the same statement: of two concurrent uses exactly one gets the
 * row (single use). Another user's link, an expired or an unknown one: undefined, and nothing is deleted.
 */
export async function takeEmailVerification(db: Db, tokenHash: string, userId: string, now: Date) {
  return db
    .deleteFrom('email_verifications')
    .where('token_hash', '=', tokenHash)
    .where('user_id', '=', userId)
    .where('expires_at', '>', now)
    .returning(['email', 'expires_at'])
    .executeTakeFirst();
}

/** Read-only: the user's live link with this hash (the link's page shows it before anything changes). */
export async function findEmailVerification(db: Db, tokenHash: string, userId: string, now: Date) {
  return db
    .selectFrom('email_verifications')
    .select(['email', 'expires_at'])
    .where('token_hash', '=', tokenHash)
    .where('user_id', '=', userId)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}
