import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { DatastoreUnavailableError, DomainError, ValidationError } from '../../core/errors.js';
import type { TenantConfig } from '../config.js';
import type { TenantSchema } from '../db/schema.js';
import { BUILTIN_PLUGINS_DIR, PluginCatalog, pluginNameProblem, type CatalogPlugin } from './catalog.js';
import { deleteInstalled, listAllowlist, replaceAllowlist, upsertInstalled } from './store.js';

type Db = Kysely<TenantSchema>;

// ---------------------------------------------------------------------------------------------------------------
// The catalog: read once per tenant configuration (boot), kept in memory (catalog.ts says why)
// ---------------------------------------------------------------------------------------------------------------

const catalogs = new WeakMap<TenantConfig, PluginCatalog>();

/** The catalog of this tenant: the built-ins and MOLECULE_PLUGINS_DIR, read at the first call (app.ts calls it at boot). */
export function pluginCatalog(config: TenantConfig, log?: Logger): PluginCatalog {
  let catalog = catalogs.get(config);
  if (!catalog) {
    catalog = PluginCatalog.load({ builtin: BUILTIN_PLUGINS_DIR, extra: config.MOLECULE_PLUGINS_DIR });
    catalogs.set(config, catalog);
    if (catalog.problems.length > 0) log?.warn({ skipped: catalog.problems }, 'some plugins could not be loaded');
    log?.info({ plugins: catalog.list().map((p) => p.name) }, 'plugin catalog loaded');
  }
  return catalog;
}

// ---------------------------------------------------------------------------------------------------------------
// The org allowlist (reference §3.14)
// ---------------------------------------------------------------------------------------------------------------

export const orgNotFound = () => new DomainError('ORG_NOT_FOUND');

/**
 * `:id` of /orgs/:id/plugins/allowlist names this tenant's org: its MOLECULE_ORG_ID, or (as the reference keys it) the
 * id of one of its root workspaces. Anything else is another org, or none: 404 `org not found`.
 */
export async function requireThisOrg(db: Db, config: TenantConfig, id: string): Promise<string> {
  const lower = id.toLowerCase();
  if (config.MOLECULE_ORG_ID && lower === config.MOLECULE_ORG_ID.toLowerCase()) return lower;
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(lower)) throw orgNotFound();
  const root = await db.selectFrom('workspaces').select('id').where('id', '=', lower).where('parent_id', 'is', null).where('status', '<>', 'removed').executeTakeFirst();
  if (!root) throw orgNotFound();
  return lower;
}

/** Validates every name before anything is written: the reference's 400 body, naming the first bad one. */
export function checkAllowlistBody(body: { plugins: string[]; enabled_by?: string }): { plugins: string[]; enabledBy: string } {
  if (body.enabled_by === undefined || body.enabled_by.trim() === '') throw new ValidationError('enabled_by is required', { field: 'enabled_by' });
  for (const name of body.plugins) {
    const detail = pluginNameProblem(name);
    if (detail) throw new ValidationError('invalid plugin name', { plugin_name: name, detail });
  }
  return { plugins: body.plugins, enabledBy: body.enabled_by };
}

export async function getAllowlist(db: Db) {
  return (await listAllowlist(db)).map((r) => ({ plugin_name: r.plugin_name, enabled_by: r.enabled_by, enabled_at: new Date(r.enabled_at).toISOString() }));
}

/** PUT: a full replace and its audit row in one transaction. */
export async function putAllowlist(db: Db, plugins: string[], enabledBy: string, audit: AuditEventInput): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await replaceAllowlist(trx, plugins, enabledBy);
    await appendAuditEvents(trx, [audit]);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Installing into a workspace
// ---------------------------------------------------------------------------------------------------------------

export interface PluginSource {
  name: string;
  version: string | null;
  /** The canonical form stored and answered: `local://<name>` (+ `@<version>` when one was asked for). */
  canonical: string;
}

/**
 * Parses `source`: the reference's `local://<name>` (its platform registry, here the catalog), or the bare name;
 * either with `@<version>` to pin one. Other schemes (`github://`, …) fetch code from outside and are not offered.
 */
export function parsePluginSource(raw: string): PluginSource {
  const bad = (detail: string) => new ValidationError('invalid plugin source', { field: 'source', detail });
  let spec = raw.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec);
  if (scheme) {
    if (scheme[1]!.toLowerCase() !== 'local') throw bad(`source scheme ${JSON.stringify(scheme[1])} is not supported: use local://<name> (a plugin of GET /plugins)`);
    spec = spec.slice(scheme[0].length);
  }
  const at = spec.indexOf('@');
  const name = at === -1 ? spec : spec.slice(0, at);
  const version = at === -1 ? null : spec.slice(at + 1);
  const problem = pluginNameProblem(name);
  if (problem) throw new ValidationError('invalid plugin name', { field: 'source', plugin_name: name, detail: problem });
  if (version !== null && !/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(version)) throw bad('the version after @ must be 1-64 letters, digits, ".", "+", "_" or "-"');
  return { name, version, canonical: `local://${name}${version === null ? '' : `@${version}`}` };
}

export function requireCatalogPlugin(catalog: PluginCatalog, source: PluginSource): CatalogPlugin {
  const plugin = catalog.get(source.name);
  if (!plugin) throw new DomainError('PLUGIN_NOT_FOUND', 'plugin not found', { plugin: source.name });
  if (source.version !== null && source.version !== plugin.version) {
    throw new DomainError('PLUGIN_NOT_FOUND', `plugin ${JSON.stringify(source.name)} has no version ${JSON.stringify(source.version)} (the catalog has ${plugin.version})`, {
      plugin: source.name,
      available_version: plugin.version,
    });
  }
  return plugin;
}

/**
 * The allowlist check, failing CLOSED: any error reading it refuses the install with 503 (the reference allows the
 * install on every database error, §3.14). The tenant database holds one org, so the list read here is the org's,
 * whatever the depth of the workspace (the reference resolves the org one level up only, §10.10).
 */
async function requireAllowed(trx: Db, name: string): Promise<void> {
  const allowlist = await readAllowlistClosed(trx);
  if (!allowlist.permits(name)) throw new DomainError('PLUGIN_NOT_ALLOWED', `plugin ${JSON.stringify(name)} is not in the org allowlist`, { plugin: name });
}

/**
 * The allowlist as a set, read failing CLOSED: an error reading it is a 503. A name is permitted when listed, or when
 * the list is empty (allow all, reference §3.14). One read serves every decision of a caller (an org import's plugins).
 */
export async function readAllowlistClosed(db: Db): Promise<{ permits: (name: string) => boolean }> {
  let names: Set<string>;
  try {
    names = new Set((await listAllowlist(db)).map((r) => r.plugin_name));
  } catch (err) {
    throw new DatastoreUnavailableError(err);
  }
  return { permits: (name) => names.size === 0 || names.has(name) };
}

/** The names among `required` that neither the workspace's secrets nor the org-wide ones provide. */
async function missingEnv(trx: Db, workspaceId: string, required: readonly string[]): Promise<string[]> {
  if (required.length === 0) return [];
  const own = await trx.selectFrom('workspace_secrets').select('key').where('workspace_id', '=', workspaceId).where('key', 'in', [...required]).execute();
  const global = await trx.selectFrom('global_secrets').select('key').where('key', 'in', [...required]).execute();
  const have = new Set([...own, ...global].map((r) => r.key));
  return required.filter((k) => !have.has(k));
}

export interface InstallResult {
  status: 'installed';
  plugin: string;
  version: string;
  source: string;
}

/**
 * Installs a catalog plugin into a workspace in one transaction: the workspace is live (404), the allowlist permits it
 * (403; 503 when it cannot be read), the environment it needs is there (412 naming what is missing), then its files
 * (a snapshot) and the audit row. The files reach the runtime's directory at its next start.
 */
export async function installPlugin(db: Db, workspaceId: string, plugin: CatalogPlugin, source: PluginSource, actor: string, audit: AuditEventInput): Promise<InstallResult> {
  await db.transaction().execute(async (trx) => {
    const ws = await trx.selectFrom('workspaces').select('id').where('id', '=', workspaceId).where('status', '<>', 'removed').forShare().executeTakeFirst();
    if (!ws) throw new DomainError('WORKSPACE_NOT_FOUND');
    await requireAllowed(trx, plugin.name);
    const missing = await missingEnv(trx, workspaceId, plugin.required_env);
    if (missing.length > 0) {
      throw new DomainError('PLUGIN_ENV_MISSING', `plugin ${JSON.stringify(plugin.name)} needs environment variables this workspace does not have: ${missing.join(', ')}`, {
        plugin: plugin.name,
        missing_env: missing,
      });
    }
    await upsertInstalled(trx, { workspace_id: workspaceId, name: plugin.name, version: plugin.version, source: source.canonical, installed_by: actor }, plugin.files);
    await appendAuditEvents(trx, [audit]);
  });
  return { status: 'installed', plugin: plugin.name, version: plugin.version, source: source.canonical };
}

/** Removes an installed plugin and writes its audit row, in one transaction; 404 when it is not installed. */
export async function uninstallPlugin(db: Db, workspaceId: string, name: string, audit: AuditEventInput): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const ws = await trx.selectFrom('workspaces').select('id').where('id', '=', workspaceId).where('status', '<>', 'removed').executeTakeFirst();
    if (!ws) throw new DomainError('WORKSPACE_NOT_FOUND');
    if (!(await deleteInstalled(trx, workspaceId, name))) throw new DomainError('PLUGIN_NOT_INSTALLED', 'plugin not installed', { plugin: name });
    await appendAuditEvents(trx, [audit]);
  });
}
