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
