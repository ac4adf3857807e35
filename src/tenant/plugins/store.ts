import { sql, type Kysely, type Selectable } from 'kysely';
import type { OrgPluginAllowlistTable, TenantSchema, WorkspacePluginsTable } from '../db/schema.js';

/** The plugins domain's queries. Writes run inside their caller's transaction (service.ts). */

type Db = Kysely<TenantSchema>;
export type AllowlistRow = Selectable<OrgPluginAllowlistTable>;
export type InstalledPluginRow = Selectable<WorkspacePluginsTable>;

/** Where a plugin's files land in its workspace: plugins/<name>/<path>. */
export const PLUGINS_DIR_IN_WORKSPACE = 'plugins';

export async function listAllowlist(db: Db): Promise<AllowlistRow[]> {
  return db.selectFrom('org_plugin_allowlist').selectAll().orderBy('plugin_name').execute();
}

/** Full replace (reference §3.14): delete all, insert each once. */
export async function replaceAllowlist(db: Db, names: readonly string[], enabledBy: string): Promise<void> {
  await db.deleteFrom('org_plugin_allowlist').execute();
  const unique = [...new Set(names)];
  if (unique.length > 0) await db.insertInto('org_plugin_allowlist').values(unique.map((plugin_name) => ({ plugin_name, enabled_by: enabledBy }))).execute();
}

export async function listInstalled(db: Db, workspaceId: string): Promise<InstalledPluginRow[]> {
  return db.selectFrom('workspace_plugins').selectAll().where('workspace_id', '=', workspaceId).orderBy('name').execute();
}

/** Installs (or reinstalls, replacing the files) one plugin into a workspace. */
export async function upsertInstalled(
  db: Db,
  row: { workspace_id: string; name: string; version: string; source: string; installed_by: string },
  files: Record<string, Buffer>,
): Promise<void> {
  // An upsert, not delete-then-insert: two installs of one plugin at once serialise on the row instead of one failing
  // on the primary key; the files are replaced after it (the later install's statements see the earlier's commit).
  await db
    .insertInto('workspace_plugins')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['workspace_id', 'name']).doUpdateSet({ version: row.version, source: row.source, installed_by: row.installed_by, installed_at: sql<Date>`now()` }),
    )
    .execute();
  await db.deleteFrom('workspace_plugin_files').where('workspace_id', '=', row.workspace_id).where('plugin_name', '=', row.name).execute();
  const rows = Object.entries(files).map(([path, content]) => ({ workspace_id: row.workspace_id, plugin_name: row.name, path, content }));
  for (let i = 0; i < rows.length; i += 50) await db.insertInto('workspace_plugin_files').values(rows.slice(i, i + 50)).execute();
}

/** Removes one installed plugin (its files cascade); false when it was not installed. */
export async function deleteInstalled(db: Db, workspaceId: string, name: string): Promise<boolean> {
  const res = await db.deleteFrom('workspace_plugins').where('workspace_id', '=', workspaceId).where('name', '=', name).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/**
 * Every installed plugin's files of a workspace, at their place in it (plugins/<name>/<path>): part of the overlay
 * the workspace's runtime directory is materialised from (workspaces/lifecycle.ts provision()).
 */
export async function workspacePluginFiles(db: Db, workspaceId: string): Promise<Record<string, Buffer>> {
  const rows = await db
    .selectFrom('workspace_plugin_files')
    .select(['plugin_name', 'path', 'content'])
    .where('workspace_id', '=', workspaceId)
    .orderBy('plugin_name')
    .orderBy('path')
    .execute();
  const files: Record<string, Buffer> = {};
  for (const r of rows) files[`${PLUGINS_DIR_IN_WORKSPACE}/${r.plugin_name}/${r.path}`] = Buffer.from(r.content.buffer, r.content.byteOffset, r.content.byteLength);
  return files;
}
