import { CompiledQuery, sql, type Insertable, type Kysely } from 'kysely';
import type { Role } from '../../core/auth/principal.js';
import type { OrgApiTokensTable, TenantSchema } from '../db/schema.js';
import { touchLastUsed } from '../db/last-used.js';

/** Queries on org_api_tokens. "Live" means not revoked and not expired — the only rows auth can ever match. */

export type OrgTokenRow = Pick<
  OrgApiTokensTable,
  'id' | 'prefix' | 'name' | 'role' | 'workspace_ids' | 'expires_at' | 'created_by' | 'org_id' | 'rotated_from' | 'replaced_by' | 'created_at' | 'last_used_at'
> & { created_at: Date; expires_at: Date | null; last_used_at: Date | null; approval_required: boolean };

const PUBLIC_COLUMNS = [
  'id',
  'prefix',
  'name',
  'role',
  'workspace_ids',
  'expires_at',
  'created_by',
  'org_id',
  'rotated_from',
  'replaced_by',
  'approval_required',
  'created_at',
  'last_used_at',
] as const;

export interface AuthKeyRow {
  id: string;
  prefix: string;
  role: Role;
  workspace_ids: string[] | null;
  org_id: string | null;
  approval_required: boolean;
}

// Hot-path statements are written out once instead of built per request: measured here, building and compiling
// with the query builder halved the lookups a pool could serve (13.4k/s precompiled vs 7.5k/s built).
const LIVE = `revoked_at is null and (expires_at is null or expires_at > now())`;
const LOOKUP_BY_HASH = `select id, prefix, role, workspace_ids, org_id, approval_required from org_api_tokens where token_hash = $1 and ${LIVE}`;
const PUBLIC_SELECT = `select ${PUBLIC_COLUMNS.join(', ')} from org_api_tokens`;
const LIST_FIRST_PAGE = `${PUBLIC_SELECT} where ${LIVE} order by created_at desc, id desc limit $1`;
const LIST_AFTER_CURSOR = `${PUBLIC_SELECT} where ${LIVE} and id < $2 order by created_at desc, id desc limit $1`;

/** The auth hot path: one indexed equality over live rows (partial index org_api_tokens_live_hash). */
export async function findLiveOrgTokenByHash(db: Kysely<TenantSchema>, hash: string): Promise<AuthKeyRow | undefined> {
  const result = await db.executeQuery<AuthKeyRow>(CompiledQuery.raw(LOOKUP_BY_HASH, [hash]));
  return result.rows[0];
}

export async function anyOrgTokenEverMinted(db: Kysely<TenantSchema>): Promise<boolean> {
  const row = await db.selectFrom('org_api_tokens').select('id').limit(1).executeTakeFirst();
  return row !== undefined;
}

/** Live keys, newest first. Ids are ULIDs, so "older than the cursor id" is a plain comparison. */
export async function listLiveOrgTokens(db: Kysely<TenantSchema>, opts: { limit: number; before?: string | undefined }): Promise<OrgTokenRow[]> {
  const query = opts.before
    ? CompiledQuery.raw(LIST_AFTER_CURSOR, [opts.limit, opts.before])
    : CompiledQuery.raw(LIST_FIRST_PAGE, [opts.limit]);
  return (await db.executeQuery<OrgTokenRow>(query)).rows;
}

/**
 * Locks the named keys' rows for the rest of the transaction and returns the live ones. Rows are locked in id order,
 * so two key-management transactions touching the same two keys queue instead of deadlocking; a rotation (which
 * marks its old key retiring) and a request made with that old key therefore never interleave.
 */
export async function lockLiveOrgTokens(db: Kysely<TenantSchema>, ids: readonly string[]): Promise<OrgTokenRow[]> {
  if (ids.length === 0) return [];
  return (await db
    .selectFrom('org_api_tokens')
    .select(PUBLIC_COLUMNS)
    .where('id', 'in', [...new Set(ids)])
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
    .orderBy('id')
    .forUpdate()
    .execute()) as OrgTokenRow[];
}

/** Marks a rotated key as retiring, pointing at the key that replaces it. */
export async function markReplaced(db: Kysely<TenantSchema>, id: string, replacementId: string): Promise<void> {
  await db.updateTable('org_api_tokens').set({ replaced_by: replacementId }).where('id', '=', id).execute();
}

export type NewOrgToken = Omit<Insertable<OrgApiTokensTable>, 'created_at' | 'last_used_at' | 'revoked_at'>;

export async function insertOrgToken(db: Kysely<TenantSchema>, row: NewOrgToken): Promise<OrgTokenRow> {
  return (await db.insertInto('org_api_tokens').values(row).returning(PUBLIC_COLUMNS).executeTakeFirstOrThrow()) as OrgTokenRow;
}

/** Revokes a live key. False when it was unknown or already dead: the reference's "idempotent by 404". */
export async function revokeOrgToken(db: Kysely<TenantSchema>, id: string): Promise<boolean> {
  const res = await db
    .updateTable('org_api_tokens')
    .set({ revoked_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Shortens a live key's life to at most `graceSeconds` from now (rotation's overlap window). */
export async function expireOrgTokenWithin(db: Kysely<TenantSchema>, id: string, graceSeconds: number): Promise<Date | null> {
  const row = await db
    .updateTable('org_api_tokens')
    .set({
      expires_at: sql<Date>`least(coalesce(expires_at, 'infinity'::timestamptz), now() + make_interval(secs => ${graceSeconds}))`,
    })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returning('expires_at')
    .executeTakeFirst();
  return row?.expires_at ?? null;
}

export async function touchOrgTokens(db: Kysely<TenantSchema>, uses: Map<string, Date>): Promise<void> {
  await touchLastUsed(db, 'org_api_tokens', uses);
}

/** The name and expiry of one org key (GET /auth/self describes the key that calls it). */
export async function findOrgTokenNameAndExpiry(db: Kysely<TenantSchema>, id: string): Promise<{ name: string | null; expires_at: Date | null } | undefined> {
  return db.selectFrom('org_api_tokens').select(['name', 'expires_at']).where('id', '=', id).executeTakeFirst();
}
