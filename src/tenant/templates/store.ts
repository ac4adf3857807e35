import { sql, type Kysely, type Selectable } from 'kysely';
import type { TemplateConfig } from '../../core/templates/config.js';
import type { TemplatesTable, TemplateSource, TenantSchema } from '../db/schema.js';

/** The templates domain's queries. Every write runs inside its caller's transaction (service.ts). */

export type TemplateRow = Selectable<TemplatesTable>;
type Db = Kysely<TenantSchema>;

/** A template's content as it is stored: its files, parsed config.yaml and digest. */
export interface TemplateContent {
  files: Record<string, Buffer>;
  config: TemplateConfig;
  digest: string;
}

export async function listTemplateRows(db: Db): Promise<TemplateRow[]> {
  return db.selectFrom('templates').selectAll().orderBy('id').execute();
}

export async function getTemplateRow(db: Db, id: string, lock: 'update' | 'share' | null = null): Promise<TemplateRow | undefined> {
  let q = db.selectFrom('templates').selectAll().where('id', '=', id);
  if (lock === 'update') q = q.forUpdate();
  if (lock === 'share') q = q.forShare();
  return q.executeTakeFirst();
}

/** The files of one version, by path. PGlite hands bytea back as a Uint8Array: always a Buffer here. */
export async function templateFiles(db: Db, id: string, version: number): Promise<Record<string, Buffer>> {
  const rows = await db.selectFrom('template_files').select(['path', 'content']).where('template_id', '=', id).where('version', '=', version).orderBy('path').execute();
  const files: Record<string, Buffer> = {};
  for (const r of rows) files[r.path] = Buffer.from(r.content);
  return files;
}

/** Paths and sizes of one version, without reading every content into memory at once. */
/** The current version's files of a template; `{}` for no template or an unknown id. */
export async function currentTemplateFiles(db: Db, id: string | null): Promise<Record<string, Buffer>> {
  if (!id) return {};
  const row = await getTemplateRow(db, id);
  return row ? templateFiles(db, row.id, row.version) : {};
}

export async function templateFileList(db: Db, id: string, version: number): Promise<Array<{ path: string; size: number; sha256: string }>> {
  const res = await sql<{ path: string; size: number | string; sha256: string }>`
    select path, octet_length(content) as size, encode(sha256(content), 'hex') as sha256
    from template_files where template_id = ${id} and version = ${version} order by path`.execute(db);
  return res.rows.map((r) => ({ path: r.path, size: Number(r.size), sha256: r.sha256 }));
}

/** Inserts a new template; false when the id is taken (the primary key decides: no check-then-write race). */
export async function insertTemplate(db: Db, id: string, name: string, source: TemplateSource, content: TemplateContent): Promise<boolean> {
  const inserted = await db
    .insertInto('templates')
    .values({ id, name, description: content.config.description ?? '', version: 1, source, config: JSON.stringify(content.config), digest: content.digest })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) return false;
  await writeVersion(db, id, 1, content.files);
  return true;
}

/**
 * Makes `content` the template's next version; undefined when there is no such template. With `onlyIfChanged`, a
 * row whose digest already matches is left alone (a replica that loaded the same directory first wins, once).
 */
export async function bumpTemplate(db: Db, id: string, name: string, source: TemplateSource, content: TemplateContent, onlyIfChanged = false): Promise<number | undefined> {
  let q = db
    .updateTable('templates')
    .set({
      name,
      description: content.config.description ?? '',
      version: sql<number>`version + 1`,
      source,
      config: JSON.stringify(content.config),
      digest: content.digest,
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', id);
  if (onlyIfChanged) q = q.where((eb) => eb.or([eb('digest', '<>', content.digest), eb('source', '<>', source)]));
  const row = await q.returning('version').executeTakeFirst();
  if (!row) return undefined;
  await writeVersion(db, id, row.version, content.files);
  return row.version;
}

/**
 * Writes one version's files and drops every version older than the previous one. Retention: the current and the
 * previous version are kept — a running workspace has its files on disk already (materialised at its start), so
 * the previous version only serves a rollback by hand; anything older is gone.
 */
async function writeVersion(db: Db, id: string, version: number, files: Record<string, Buffer>) {
  const rows = Object.entries(files).map(([path, content]) => ({ template_id: id, version, path, content }));
  // Bounded batches: one statement per 50 files keeps every statement's parameters and size small.
  for (let i = 0; i < rows.length; i += 50) await db.insertInto('template_files').values(rows.slice(i, i + 50)).execute();
  await db.deleteFrom('template_files').where('template_id', '=', id).where('version', '<', version - 1).execute();
}

export async function deleteTemplateRow(db: Db, id: string): Promise<void> {
  await db.deleteFrom('templates').where('id', '=', id).execute();
}

/** The workspaces that are not removed and name this template: they need it to start again. */
export async function liveWorkspacesUsing(db: Db, id: string): Promise<Array<{ id: string; name: string }>> {
  return db.selectFrom('workspaces').select(['id', 'name']).where('template', '=', id).where('status', '<>', 'removed').orderBy('name').execute();
}
