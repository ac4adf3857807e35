import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { TenantSchema, WorkspaceTokensTable, WorkspacesTable } from '../db/schema.js';

export type WorkspaceRow = Selectable<WorkspacesTable>;

const ROOT_PARENT = '00000000-0000-0000-0000-000000000000';

export async function findLiveWorkspaceIds(db: Kysely<TenantSchema>, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom('workspaces').select('id').where('id', 'in', ids).where('status', '<>', 'removed').execute();
  return rows.map((r) => r.id);
}

export async function getWorkspace(db: Kysely<TenantSchema>, id: string, includeRemoved = false): Promise<WorkspaceRow | undefined> {
  let q = db.selectFrom('workspaces').selectAll().where('id', '=', id);
  if (!includeRemoved) q = q.where('status', '<>', 'removed');
  return (await q.executeTakeFirst()) as WorkspaceRow | undefined;
}

export async function listWorkspaces(db: Kysely<TenantSchema>, opts: { ids: readonly string[] | null; includeRemoved: boolean }): Promise<WorkspaceRow[]> {
  let q = db.selectFrom('workspaces').selectAll().orderBy('created_at', 'asc').orderBy('id', 'asc');
  if (!opts.includeRemoved) q = q.where('status', '<>', 'removed');
  if (opts.ids !== null) {
    if (opts.ids.length === 0) return [];
    q = q.where('id', 'in', opts.ids);
  }
  return (await q.execute()) as WorkspaceRow[];
}

/**
 * The first free name under a parent: `name`, then `name (2)` … `name (21)` (the reference's collision rule).
 * Returns null when all are taken.
 */
export async function firstFreeName(db: Kysely<TenantSchema>, parentId: string | null, name: string): Promise<string | null> {
  const taken = await db
    .selectFrom('workspaces')
    .select('name')
    .where(sql<string>`coalesce(parent_id, ${ROOT_PARENT}::uuid)`, '=', parentId ?? ROOT_PARENT)
    .where('status', '<>', 'removed')
    .where((eb) => eb.or([eb('name', '=', name), eb('name', 'like', `${name.replace(/[\\%_]/g, '\\$&')} (%)`)]))
    .execute();
  const names = new Set(taken.map((r) => r.name));
  if (!names.has(name)) return name;
  for (let i = 2; i <= 21; i++) if (!names.has(`${name} (${i})`)) return `${name} (${i})`;
  return null;
}

export async function insertWorkspace(
  db: Kysely<TenantSchema>,
  row: Insertable<WorkspacesTable>,
): Promise<WorkspaceRow> {
  return (await db
    .insertInto('workspaces')
    .values(row)
    .returningAll()
    .executeTakeFirstOrThrow()) as WorkspaceRow;
}

/** Many rows in one statement per chunk (org import), inside the caller's transaction. */
export async function insertWorkspaces(db: Kysely<TenantSchema>, rows: readonly Insertable<WorkspacesTable>[]): Promise<void> {
  // Parents come before their children in `rows`, and a chunk is inserted whole, so the parent FK always holds.
  for (let i = 0; i < rows.length; i += 500) await db.insertInto('workspaces').values(rows.slice(i, i + 500)).execute();
}

export async function insertWorkspaceTokens(db: Kysely<TenantSchema>, rows: readonly Insertable<WorkspaceTokensTable>[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) await db.insertInto('workspace_tokens').values(rows.slice(i, i + 500)).execute();
}

/** Every live workspace's place in the tree (org import's plan, org export). */
export async function liveTree(db: Kysely<TenantSchema>): Promise<WorkspaceRow[]> {
  return (await db.selectFrom('workspaces').selectAll().where('status', '<>', 'removed').orderBy('created_at', 'asc').orderBy('id', 'asc').execute()) as WorkspaceRow[];
}

/** The workspace and all its live descendants, root first. */
export async function liveSubtreeIds(db: Kysely<TenantSchema>, rootId: string): Promise<string[]> {
  const res = await sql<{ id: string }>`
    with recursive subtree(id, depth) as (
      select id, 0 from workspaces where id = ${rootId} and status <> 'removed'
      union all
      select w.id, s.depth + 1 from workspaces w join subtree s on w.parent_id = s.id where w.status <> 'removed'
    )
    select id from subtree order by depth`.execute(db);
  return res.rows.map((r) => r.id);
}

export async function liveChildren(db: Kysely<TenantSchema>, id: string) {
  return db.selectFrom('workspaces').select(['id', 'name']).where('parent_id', '=', id).where('status', '<>', 'removed').orderBy('created_at').execute();
}

export async function markRemoved(db: Kysely<TenantSchema>, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const res = await db
    .updateTable('workspaces')
    .set({ status: 'removed', removed_at: sql<Date>`now()`, updated_at: sql<Date>`now()`, url: '' })
    .where('id', 'in', ids)
    .where('status', '<>', 'removed')
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}
