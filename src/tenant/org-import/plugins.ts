import type { Kysely, Transaction } from 'kysely';
import type { AuditEventInput } from '../../core/audit/chain.js';
import { DomainError } from '../../core/errors.js';
import type { TenantSchema } from '../db/schema.js';
import type { EventBus, WorkspaceEvent } from '../events/bus.js';
import type { CatalogPlugin, PluginCatalog } from '../plugins/catalog.js';
import { parsePluginSource, readAllowlistClosed, requireCatalogPlugin, type PluginSource } from '../plugins/service.js';
import { upsertInstalled } from '../plugins/store.js';
import type { DesiredNode } from './plan.js';

/**
 * The plugins an org template declares (`defaults.plugins ∪ node.plugins`), installed into each workspace the import
 * creates, inside the import's transaction. A declared name that the catalog lacks (reference templates name plugins
 * this server does not ship), that the org allowlist does not permit, or whose `required_env` no org-wide secret
 * provides, is skipped and reported, never a failure of the import. The allowlist is read failing CLOSED (503).
 * A workspace the import matches (skipped) keeps its plugins as they are.
 */

export type PluginSkipReason = 'not in the catalog' | 'not in the org allowlist' | 'missing required environment';

export interface PluginSkip {
  name: string;
  reason: PluginSkipReason;
  missing_env?: string[];
}

export interface NodePlugins {
  install: Array<{ plugin: CatalogPlugin; source: PluginSource }>;
  skipped: PluginSkip[];
}

/** What happens to each declared plugin of each created workspace, by workspace id (only those that declare some). */
export async function decidePlugins(
  db: Kysely<TenantSchema>,
  catalog: PluginCatalog,
  creates: ReadonlyArray<{ node: DesiredNode; id: string }>,
): Promise<Map<string, NodePlugins>> {
  const out = new Map<string, NodePlugins>();
  if (!creates.some((c) => c.node.plugins.length > 0)) return out;
  const allowlist = await readAllowlistClosed(db);
  const globalKeys = new Set((await db.selectFrom('global_secrets').select('key').execute()).map((r) => r.key));
  for (const { node, id } of creates) {
    if (node.plugins.length === 0) continue;
    const result: NodePlugins = { install: [], skipped: [] };
    const chosen = new Set<string>();
    for (const name of node.plugins) {
      let source: PluginSource;
      let plugin: CatalogPlugin;
      try {
        source = parsePluginSource(name);
        plugin = requireCatalogPlugin(catalog, source);
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        result.skipped.push({ name, reason: 'not in the catalog' });
        continue;
      }
      if (!allowlist.permits(plugin.name)) {
        result.skipped.push({ name, reason: 'not in the org allowlist' });
        continue;
      }
      // A new workspace has no secrets of its own yet: only the org-wide ones can provide what the plugin needs.
      const missing = plugin.required_env.filter((k) => !globalKeys.has(k));
      if (missing.length > 0) {
        result.skipped.push({ name, reason: 'missing required environment', missing_env: missing });
        continue;
      }
      // `hello-skill` and `local://hello-skill` are one plugin: installed once.
      if (chosen.has(plugin.name)) continue;
      chosen.add(plugin.name);
      result.install.push({ plugin, source });
    }
    out.set(id, result);
  }
  return out;
}

/** For the responses: the names installed (or to install) and the skips. */
export function pluginReport(decided: NodePlugins | undefined): { plugins?: string[]; plugins_skipped?: PluginSkip[] } {
  if (!decided) return {};
  return {
    ...(decided.install.length > 0 ? { plugins: decided.install.map((i) => i.plugin.name) } : {}),
    ...(decided.skipped.length > 0 ? { plugins_skipped: decided.skipped } : {}),
  };
}

/**
 * Writes the installs inside the import's transaction: each plugin's snapshot and, as POST /workspaces/:id/plugins
 * writes them, an audit row of the install (the import's request, actor and credential; the install's route and path)
 * and a PLUGIN_INSTALLED event. Answers the audit rows to append and the events to publish after the commit; the
 * events are recorded by `recordPluginEvents`, called last (recording takes the event-order lock).
 */
export async function installDecidedPlugins(trx: Transaction<TenantSchema>, decided: Map<string, NodePlugins>, actor: string, audit: AuditEventInput): Promise<AuditEventInput[]> {
  const rows: AuditEventInput[] = [];
  for (const [id, { install }] of decided) {
    for (const { plugin, source } of install) {
      await upsertInstalled(trx, { workspace_id: id, name: plugin.name, version: plugin.version, source: source.canonical, installed_by: actor }, plugin.files);
      rows.push({ ...audit, method: 'POST', route: '/workspaces/:id/plugins', path: `/workspaces/${id}/plugins`, status: 200 });
    }
  }
  return rows;
}

export async function recordPluginEvents(trx: Transaction<TenantSchema>, events: EventBus, decided: Map<string, NodePlugins>): Promise<WorkspaceEvent[]> {
  const out: WorkspaceEvent[] = [];
  for (const [id, { install }] of decided) {
    for (const { plugin, source } of install) {
      out.push(await events.recordIn(trx, 'PLUGIN_INSTALLED', id, { plugin: plugin.name, version: plugin.version, source: source.canonical, reason: 'org import' }));
    }
  }
  return out;
}
