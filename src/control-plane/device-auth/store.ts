import type { Kysely, Transaction } from 'kysely';
import type { ControlPlaneSchema, DeviceAuthorizationStatus } from '../db/schema.js';

type Db = Kysely<ControlPlaneSchema> | Transaction<ControlPlaneSchema>;

/** Purge on write: expired authorizations go before a new one is stored (the hourly session sweep also deletes them). */
export async function deleteExpiredDeviceAuthorizations(db: Db, now: Date): Promise<number> {
  const result = await db.deleteFrom('device_authorizations').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function insertDeviceAuthorization(
  db: Db,
  row: { deviceCodeHash: string; userCodeHash: string; clientName: string; clientIp: string; intervalSeconds: number; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto('device_authorizations')
    .values({
      device_code_hash: row.deviceCodeHash,
      user_code_hash: row.userCodeHash,
      client_name: row.clientName,
      client_ip: row.clientIp,
      interval_seconds: row.intervalSeconds,
      expires_at: row.expiresAt,
    })
    .execute();
}

/** The live, undecided authorization a user code names (what the approval page shows). */
export async function findPendingByUserCode(db: Db, userCodeHash: string, now: Date) {
  return db
    .selectFrom('device_authorizations')
    .select(['client_name', 'client_ip', 'created_at', 'expires_at'])
    .where('user_code_hash', '=', userCodeHash)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/** Decides a live, undecided authorization in one statement: of two concurrent decisions exactly one wins. */
export async function decideDeviceAuthorization(
  db: Db,
  userCodeHash: string,
  now: Date,
  decision: { status: Exclude<DeviceAuthorizationStatus, 'pending'>; userId: string; orgSlug: string | null },
) {
  return db
    .updateTable('device_authorizations')
    .set({ status: decision.status, user_id: decision.userId, org_slug: decision.orgSlug, decided_at: now })
    .where('user_code_hash', '=', userCodeHash)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .returning(['client_name'])
    .executeTakeFirst();
}

/** The authorization a device code names, locked until the transaction ends (polls of one code are serialized). */
export async function lockByDeviceCode(tx: Transaction<ControlPlaneSchema>, deviceCodeHash: string) {
  return tx.selectFrom('device_authorizations').selectAll().where('device_code_hash', '=', deviceCodeHash).forUpdate().executeTakeFirst();
}

export async function recordPoll(db: Db, deviceCodeHash: string, polledAt: Date, intervalSeconds: number): Promise<void> {
  await db.updateTable('device_authorizations').set({ last_polled_at: polledAt, interval_seconds: intervalSeconds }).where('device_code_hash', '=', deviceCodeHash).execute();
}

export async function deleteByDeviceCode(db: Db, deviceCodeHash: string): Promise<void> {
  await db.deleteFrom('device_authorizations').where('device_code_hash', '=', deviceCodeHash).execute();
}
