import type { Kysely } from 'kysely';
import type { TenantSchema } from '../db/schema.js';
import type { WorkspaceRow } from '../workspaces/store.js';

/**
 * A workspace's own files: what a bundle import wrote for it (system-prompt.md, prompts, skills/<id>/…). Its
 * effective files are its template's overlaid by these (this overlay wins). The workspace-templates materialisation
 * reads them through this function.
 */
export async function workspaceOwnFiles(db: Kysely<TenantSchema>, workspaceId: string): Promise<Record<string, Buffer>> {
  const rows = await db.selectFrom('workspace_files').select(['path', 'content']).where('workspace_id', '=', workspaceId).orderBy('path').execute();
  const files: Record<string, Buffer> = {};
  for (const r of rows) files[r.path] = Buffer.from(r.content.buffer, r.content.byteOffset, r.content.byteLength);
  return files;
}

/** Stores files for a new workspace (inside the import's transaction); paths are already checked. */
export async function insertWorkspaceFiles(db: Kysely<TenantSchema>, workspaceId: string, files: ReadonlyMap<string, Buffer>): Promise<void> {
  const rows = [...files].map(([path, content]) => ({ workspace_id: workspaceId, path, content }));
  // At most BUNDLE_LIMITS.filesPerNode (200) rows, three parameters each: one statement.
  if (rows.length > 0) await db.insertInto('workspace_files').values(rows).execute();
}

/** The live children of a workspace, oldest first (the export's order before its own tie-break). */
export async function liveChildRows(db: Kysely<TenantSchema>, parentId: string): Promise<WorkspaceRow[]> {
  return (await db
    .selectFrom('workspaces')
    .selectAll()
    .where('parent_id', '=', parentId)
    .where('status', '<>', 'removed')
    .orderBy('created_at')
    .orderBy('id')
    .execute()) as WorkspaceRow[];
}
