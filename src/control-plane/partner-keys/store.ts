import type { Kysely, Selectable, Transaction } from 'kysely';
import type { ControlPlaneSchema, PartnerApiKeysTable } from '../db/schema.js';

type Db = Kysely<ControlPlaneSchema> | Transaction<ControlPlaneSchema>;
export type PartnerKeyRow = Selectable<PartnerApiKeysTable>;

/** Every column but the hash: what lists and reads need. */
const PUBLIC_COLUMNS = ['id', 'name', 'key_prefix', 'partner_id', 'org_id', 'scopes', 'rate_limit', 'created_by', 'created_at', 'expires_at', 'revoked_at', 'last_used_at'] as const;
export type PartnerKeyListRow = Omit<PartnerKeyRow, 'key_hash'>;

/**
 * The auth lookup for the hashes presented meanwhile (BatchedLookup), keyed by hash: equality on the hash over live
 * rows (the partial index `partner_api_keys_live_hash`).
 */
export async function findLiveKeysByHashes(db: Db, hashes: string[]): Promise<Map<string, PartnerKeyRow>> {
  const rows = await db.selectFrom('partner_api_keys').selectAll().where('key_hash', 'in', hashes).where('revoked_at', 'is', null).execute();
  return new Map(rows.map((r) => [r.key_hash, r]));
}

export async function insertPartnerKey(db: Db, row: Omit<PartnerKeyRow, 'created_at' | 'revoked_at' | 'last_used_at'>): Promise<PartnerKeyRow> {
  return db.insertInto('partner_api_keys').values(row).returningAll().executeTakeFirstOrThrow();
}

/** Keys visible to a viewer: all (CP admin), or one partner's (optionally only those bound to one org), newest first. */
export async function listPartnerKeys(db: Db, filter: { partnerId?: string; orgId?: string; includeRevoked: boolean; limit: number }): Promise<PartnerKeyListRow[]> {
  let q = db.selectFrom('partner_api_keys').select(PUBLIC_COLUMNS);
  if (filter.partnerId !== undefined) q = q.where('partner_id', '=', filter.partnerId);
  if (filter.orgId !== undefined) q = q.where('org_id', '=', filter.orgId);
  if (!filter.includeRevoked) q = q.where('revoked_at', 'is', null);
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
}

export async function findPartnerKey(db: Db, id: string): Promise<PartnerKeyListRow | undefined> {
  return db.selectFrom('partner_api_keys').select(PUBLIC_COLUMNS).where('id', '=', id).executeTakeFirst();
}

/** Sets revoked_at once; answers whether this call revoked it (false: already revoked or unknown). */
export async function revokePartnerKey(db: Db, id: string): Promise<boolean> {
  const res = await db.updateTable('partner_api_keys').set({ revoked_at: new Date() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** The batched `last_used_at` write (UsageTracker): one statement per flush. */
export async function touchPartnerKeys(db: Kysely<ControlPlaneSchema>, uses: Map<string, Date>): Promise<void> {
  if (uses.size === 0) return;
  const latest = new Date(Math.max(...[...uses.values()].map((d) => d.getTime())));
  await db.updateTable('partner_api_keys').set({ last_used_at: latest }).where('id', 'in', [...uses.keys()]).execute();
}
