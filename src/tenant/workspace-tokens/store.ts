import { CompiledQuery, sql, type Kysely } from 'kysely';
import { touchLastUsed } from '../db/last-used.js';
import type { TenantSchema, WorkspaceTokensTable } from '../db/schema.js';

export type WorkspaceTokenRow = Pick<WorkspaceTokensTable, 'id' | 'workspace_id' | 'prefix' | 'kind' | 'created_by'> & {
  created_at: Date;
  last_used_at: Date | null;
};

const LOOKUP_BY_HASH = `select t.id, t.prefix, t.workspace_id from workspace_tokens t join workspaces w on w.id = t.workspace_id
  where t.token_hash = $1 and t.revoked_at is null and w.status <> 'removed'`;

/** A live workspace token whose workspace is not removed: what WorkspaceAuth may accept. Written out once (hot path). */
export async function findLiveWorkspaceTokenByHash(db: Kysely<TenantSchema>, hash: string) {
  const result = await db.executeQuery<{ id: string; prefix: string; workspace_id: string }>(CompiledQuery.raw(LOOKUP_BY_HASH, [hash]));
  return result.rows[0];
}

export async function countLiveWorkspaceTokens(db: Kysely<TenantSchema>, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('workspace_tokens')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('workspace_id', '=', workspaceId)
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertWorkspaceToken(
  db: Kysely<TenantSchema>,
  row: { id: string; workspace_id: string; token_hash: string; prefix: string; kind: 'api' | 'instance'; created_by: string },
): Promise<WorkspaceTokenRow> {
  return (await db
    .insertInto('workspace_tokens')
    .values(row)
    .returning(['id', 'workspace_id', 'prefix', 'kind', 'created_by', 'created_at', 'last_used_at'])
    .executeTakeFirstOrThrow()) as WorkspaceTokenRow;
}

export async function listLiveWorkspaceTokens(db: Kysely<TenantSchema>, workspaceId: string, limit: number, offset: number): Promise<WorkspaceTokenRow[]> {
  return (await db
    .selectFrom('workspace_tokens')
    .select(['id', 'workspace_id', 'prefix', 'kind', 'created_by', 'created_at', 'last_used_at'])
    .where('workspace_id', '=', workspaceId)
    .where('revoked_at', 'is', null)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .offset(offset)
    .execute()) as WorkspaceTokenRow[];
}

/** Revokes one live token of this workspace; a token of another workspace is "not found", never touched. */
export async function revokeWorkspaceToken(db: Kysely<TenantSchema>, workspaceId: string, tokenId: string): Promise<boolean> {
  const res = await db
    .updateTable('workspace_tokens')
    .set({ revoked_at: sql<Date>`now()` })
    .where('id', '=', tokenId)
    .where('workspace_id', '=', workspaceId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function revokeAllWorkspaceTokens(db: Kysely<TenantSchema>, workspaceIds: readonly string[]): Promise<number> {
  if (workspaceIds.length === 0) return 0;
  const res = await db
    .updateTable('workspace_tokens')
    .set({ revoked_at: sql<Date>`now()` })
    .where('workspace_id', 'in', workspaceIds)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

export async function touchWorkspaceTokens(db: Kysely<TenantSchema>, uses: Map<string, Date>): Promise<void> {
  await touchLastUsed(db, 'workspace_tokens', uses);
}
