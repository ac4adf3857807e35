import type { Kysely } from 'kysely';

/**
 * Where Idempotency-Key records live: one table in each service's own database (tenant migration
 * 202611290101_idempotency, control plane 202611290102_idempotency), the same shape in both. A row holds no request,
 * no credential and no plaintext response (idempotency-crypto.ts).
 */
export interface IdempotencyKeysTable {
  /** sha256 over the scope, method, URL and key (hex). */
  id: string;
  /** HMAC of the request under the caller-derived key (hex). */
  fingerprint: string;
  state: 'in_flight' | 'done';
  /** Random per attempt: only the attempt that holds the row may complete or release it. */
  lock_token: string;
  /** The sealed response (base64 of nonce ‖ tag ‖ ciphertext); null while in flight. */
  response: string | null;
  created_at: Date;
  locked_at: Date;
}

export interface IdempotencySchema {
  idempotency_keys: IdempotencyKeysTable;
}

/** A database that holds the idempotency table, seen only through it (the runtime object is the same). */
export function idempotencyDb<DB extends IdempotencySchema>(db: Kysely<DB>): Kysely<IdempotencySchema> {
  return db as unknown as Kysely<IdempotencySchema>;
}

export type IdempotencyRecord = IdempotencyKeysTable;

export interface NewIdempotencyRecord {
  id: string;
  fingerprint: string;
  lockToken: string;
  now: Date;
}

/** The few atomic steps the idempotency hooks need; each implementation is one database's table. */
export interface IdempotencyStore {
  /** Inserts an in-flight row; false when a row with this id exists. */
  claim(rec: NewIdempotencyRecord): Promise<boolean>;
  find(id: string): Promise<IdempotencyRecord | undefined>;
  /** Takes over an existing row (expired, abandoned, unreadable) only if it still carries `observedLockToken`. */
  takeOver(observedLockToken: string, rec: NewIdempotencyRecord): Promise<boolean>;
  /** Stores the sealed response of the attempt holding `lockToken`. */
  complete(id: string, lockToken: string, response: string): Promise<boolean>;
  /** Deletes the row of the attempt holding `lockToken` (its outcome is not kept: a retry runs again). */
  release(id: string, lockToken: string): Promise<void>;
  /** Deletes rows created before `before`; returns how many. */
  purgeCreatedBefore(before: Date): Promise<number>;
}

export class KyselyIdempotencyStore implements IdempotencyStore {
  private readonly db: Kysely<IdempotencySchema>;

  constructor(db: Kysely<IdempotencySchema>) {
    this.db = db;
  }

  async claim(rec: NewIdempotencyRecord): Promise<boolean> {
    const inserted = await this.db
      .insertInto('idempotency_keys')
      .values({ id: rec.id, fingerprint: rec.fingerprint, state: 'in_flight', lock_token: rec.lockToken, response: null, created_at: rec.now, locked_at: rec.now })
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  async find(id: string): Promise<IdempotencyRecord | undefined> {
    return this.db.selectFrom('idempotency_keys').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async takeOver(observedLockToken: string, rec: NewIdempotencyRecord): Promise<boolean> {
    const updated = await this.db
      .updateTable('idempotency_keys')
      .set({ fingerprint: rec.fingerprint, state: 'in_flight', lock_token: rec.lockToken, response: null, created_at: rec.now, locked_at: rec.now })
      .where('id', '=', rec.id)
      .where('lock_token', '=', observedLockToken)
      .returning('id')
      .executeTakeFirst();
    return updated !== undefined;
  }

  async complete(id: string, lockToken: string, response: string): Promise<boolean> {
    const updated = await this.db
      .updateTable('idempotency_keys')
      .set({ state: 'done', response })
      .where('id', '=', id)
      .where('lock_token', '=', lockToken)
      .returning('id')
      .executeTakeFirst();
    return updated !== undefined;
  }

  async release(id: string, lockToken: string): Promise<void> {
    await this.db.deleteFrom('idempotency_keys').where('id', '=', id).where('lock_token', '=', lockToken).execute();
  }

  async purgeCreatedBefore(before: Date): Promise<number> {
    const result = await this.db.deleteFrom('idempotency_keys').where('created_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/** The migration statements, identical in both services' databases. */
export const IDEMPOTENCY_MIGRATION_STATEMENTS: readonly string[] = [
  `create table if not exists idempotency_keys (
    id text primary key,
    fingerprint text not null,
    state text not null check (state in ('in_flight', 'done')),
    lock_token text not null,
    response text,
    created_at timestamptz not null,
    locked_at timestamptz not null
  )`,
  `create index if not exists idempotency_keys_created on idempotency_keys (created_at)`,
];
