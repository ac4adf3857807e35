import type { Kysely } from 'kysely';
import type { TenantSchema } from '../db/schema.js';

/**
 * The files of a workspace template, by the workspace's `template` id: the base a workspace's own files
 * (store.ts, `workspaceOwnFiles`) are overlaid on. A bundle export reads a workspace's files through this.
 *
 * For now no template has stored files, so this is `{}`. The merge with the workspace-templates branch wires it to
 * the templates module (src/tenant/templates/, tables `templates`/`template_files`): it returns that template's
 * files, `{}` for null or an unknown id.
 */
export async function templateFilesOf(_db: Kysely<TenantSchema>, _templateId: string | null): Promise<Record<string, Buffer>> {
  return {};
}
