import type { Kysely, Transaction } from 'kysely';
import { newId } from '../../core/ids.js';
import type { ControlPlaneSchema } from '../db/schema.js';

type Db = Kysely<ControlPlaneSchema> | Transaction<ControlPlaneSchema>;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export async function insertUser(db: Db, user: { email: string; name: string | null; passwordHash: string | null }) {
  return db
    .insertInto('users')
    .values({ id: newId('user'), email: normalizeEmail(user.email), name: user.name, password_hash: user.passwordHash })
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
    .select(['users.id', 'users.email', 'users.name', 'users.terms_version'])
    .where('user_identities.provider', '=', provider)
    .where('user_identities.subject', '=', subject)
    .executeTakeFirst();
}

export async function insertIdentity(db: Db, identity: { provider: string; subject: string; userId: string; email: string | null }) {
  await db.insertInto('user_identities').values({ provider: identity.provider, subject: identity.subject, user_id: identity.userId, email: identity.email }).execute();
}
