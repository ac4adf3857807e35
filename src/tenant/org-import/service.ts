import type { Kysely } from 'kysely';
import type { Principal } from '../../core/auth/principal.js';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { isUniqueViolation } from '../../core/db/index.js';
import { isDatastoreOutage } from '../../core/db/outage.js';
import { DomainError, ValidationError } from '../../core/errors.js';
import { insertWorkspaceFiles } from '../bundles/store.js';
import type { TenantContext } from '../context.js';
import type { TenantSchema } from '../db/schema.js';
import { requireTemplate } from '../templates/service.js';
import type { WorkspaceEvent } from '../events/bus.js';
import { listGlobalSecretMeta } from '../secrets/store.js';
import { revokeAllWorkspaceTokens } from '../workspace-tokens/store.js';
import { apiTokenFor, workspaceRowFor, type CreatedWorkspace } from '../workspaces/service.js';
import { insertWorkspaces, insertWorkspaceTokens, markRemoved } from '../workspaces/store.js';
import { pluginCatalog } from '../plugins/service.js';
import { createImportedChannels, type NodeChannels } from './channels.js';
import type { LoadedTemplate } from './loader.js';
import { computePlan, preflight, resolveDesired, type DesiredNode, type Plan } from './plan.js';
import { decidePlugins, installDecidedPlugins, pluginReport, recordPluginEvents, type NodePlugins } from './plugins.js';
import type { OrgImportResponse, PlanEntry, Preflight } from './schemas.js';

export type ImportDeps = Pick<TenantContext, 'db' | 'log' | 'config' | 'events' | 'lifecycle' | 'streams' | 'cipher' | 'channels'>;

export type ImportMode = 'merge' | 'reconcile';

export interface DryRunResult {
  dry_run: true;
  org: string;
  mode: ImportMode;
  plan: PlanEntry[];
  summary: { create: number; skip: number; remove: number };
  preflight: Preflight;
}

export interface ImportResult {
  status: 201 | 207;
  body: OrgImportResponse;
}

/** The 412 body of the reference, word for word (§3.11), with our code and request id. */
function missingEnvError(template: string, check: Preflight): DomainError {
  return new DomainError('ORG_REQUIRED_ENV_MISSING', 'missing required environment variables', {
    missing_env: check.missing_env,
    required_env: check.required_env,
    template,
    suggestion: 'set these as global secrets (POST /settings/secrets) before importing',
  });
}

async function globalKeys(deps: ImportDeps): Promise<Set<string>> {
  return new Set((await listGlobalSecretMeta(deps.db)).map((s) => s.key));
}

/** `?dry_run=true`: the plan and the preflight, read from the live tree; nothing is written. */
export async function planOrgImport(deps: ImportDeps, loaded: LoadedTemplate, mode: ImportMode): Promise<DryRunResult> {
  const desired = await resolveDesired(loaded);
  await checkTemplates(deps.db, desired.roots, false);
  const check = preflight(loaded.template, await globalKeys(deps));
  const plan = await computePlan(deps.db, desired, mode === 'reconcile');
  // What each created workspace would get of its declared plugins (the allowlist read failing closed, as the import).
  const plugins = await decidePlugins(deps.db, pluginCatalog(deps.config, deps.log), plan.creates);
  const byPath = new Map(plan.creates.map((c) => [c.node.path, pluginReport(plugins.get(c.id))]));
  return {
    dry_run: true,
    org: desired.org,
    mode,
    plan: plan.entries.map((e) => (e.action === 'create' ? { ...e, ...byPath.get(e.path) } : e)),
    summary: { create: plan.creates.length, skip: plan.skips.length, remove: plan.removals.length },
    preflight: check,
  };
}

/**
 * Every workspace template the file names exists (a 400 naming the node's field otherwise), as POST /workspaces
 * checks its own; inside the import's transaction the rows are share-locked, so a concurrent DELETE waits.
 */
async function checkTemplates(db: Kysely<TenantSchema>, nodes: readonly DesiredNode[], lock: boolean): Promise<void> {
  for (const node of nodes) {
    if (node.input.template) {
      try {
        await requireTemplate(db, node.input.template, lock);
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        throw new ValidationError(err.message, { ...err.context, field: `${node.where}.template`, workspace: node.name });
      }
    }
    await checkTemplates(db, node.children, lock);
  }
}

/** Microsecond-spaced creation times, so siblings keep the file's order (listings and export sort by created_at). */
function createdAt(base: Date, i: number): string {
  const micros = base.getTime() * 1000 + i;
  const ms = Math.floor(micros / 1000);
  return new Date(ms).toISOString().replace('Z', `${String(micros % 1000).padStart(3, '0')}Z`);
}

/**
 * POST /org/import: every record of the import — the new workspaces, their first tokens, channels and declared
 * plugins (installed when the catalog and the allowlist permit them, plugins.ts), the reconcile's
 * removals and their revoked tokens, the `org.import.started` event and the audit event — in ONE transaction, so a
 * failure creates nothing. Runtimes start after the commit, at most MOLECULE_PROVISION_CONCURRENCY at a time; a
 * runtime that fails to start makes the answer 207 (the records stand), never a rollback.
 */
export async function importOrg(deps: ImportDeps, principal: Principal, loaded: LoadedTemplate, mode: ImportMode, audit: AuditEventInput): Promise<ImportResult> {
  const started = Date.now();
  const desired = await resolveDesired(loaded);
  const check = preflight(loaded.template, await globalKeys(deps));
  if (!check.ok) throw missingEnvError(desired.org, check);
  const eventBase = { name: desired.org, dir: desired.dir ?? '', mode };

  const catalog = pluginCatalog(deps.config, deps.log);
  let committed: {
    plan: Plan;
    tokens: Map<string, CreatedWorkspace['token']>;
    channels: Map<string, NodeChannels>;
    plugins: Map<string, NodePlugins>;
    pluginEvents: WorkspaceEvent[];
    startedEvent: WorkspaceEvent;
  };
  // A concurrent import (or create) can take a name between the plan and the insert: the unique index refuses it,
  // the transaction rolls back whole, and the import is planned again against the new tree.
  for (let attempt = 0; ; attempt++) {
    try {
      committed = await deps.db.transaction().execute(async (trx) => {
        await checkTemplates(trx, desired.roots, true);
        const plan = await computePlan(trx, desired, mode === 'reconcile');
        const base = new Date();
        const tokens = new Map<string, CreatedWorkspace['token']>();
        const tokenRows = [];
        const rows = plan.creates.map(({ node, id, parentId }, i) => ({ ...workspaceRowFor(node.input, { id, parentId, name: node.name }), created_at: createdAt(base, i) }));
        for (const { id } of plan.creates) {
          const { row, token } = apiTokenFor(id, principal.actor);
          tokenRows.push(row);
          tokens.set(id, token);
        }
        await insertWorkspaces(trx, rows);
        await insertWorkspaceTokens(trx, tokenRows);
        // A node's `files_dir` contents (checked in the plan) become the new workspace's own files, overlaid on its
        // template's when its runtime starts.
        for (const { node, id } of plan.creates) if (node.files) await insertWorkspaceFiles(trx, id, new Map(Object.entries(node.files)));
        const channels = await createImportedChannels(trx, { cipher: deps.cipher, policy: deps.channels.policy }, plan.creates);
        // Declared plugins of the new workspaces: installed when the catalog has them and the allowlist (read failing
        // closed: 503, nothing written) permits them; materialised when each runtime first starts, after the commit.
        const plugins = await decidePlugins(trx, catalog, plan.creates);
        const pluginAudit = await installDecidedPlugins(trx, plugins, principal.actor, audit);
        const removedIds = plan.removals.map((r) => r.row.id);
        await markRemoved(trx, removedIds);
        await revokeAllWorkspaceTokens(trx, removedIds);
        await appendAuditEvents(trx, [audit, ...pluginAudit]);
        // Last: recording takes the event-order lock, which every other event waits on until this commits.
        const pluginEvents = await recordPluginEvents(trx, deps.events, plugins);
        const startedEvent = await deps.events.recordIn(trx, 'org.import.started', null, eventBase);
        return { plan, tokens, channels, plugins, pluginEvents, startedEvent };
      });
      break;
    } catch (err) {
      if (isUniqueViolation(err) && attempt < 3) continue;
      throw err;
    }
  }
  const { plan, tokens, channels, plugins, pluginEvents, startedEvent } = committed;
  for (const e of pluginEvents) deps.events.publish(e);
  deps.events.publish(startedEvent);

  const removedIds = plan.removals.map((r) => r.row.id);
  if (removedIds.length > 0) {
    await deps.lifecycle.removed(removedIds);
    deps.streams.workspacesRemoved(removedIds);
  }
  const failures = await startRuntimes(deps, plan);

  const created = new Set(plan.creates.map((c) => c.id));
  const workspaces: OrgImportResponse['workspaces'] = [];
  const statusOf = new Map((await statuses(deps, [...created])).map((r) => [r.id, r.status]));
  // Tree order: every node of the file that exists now, created or matched.
  const order = [...plan.creates.map((c) => ({ id: c.id, node: c.node })), ...plan.skips.map((s) => ({ id: s.row.id, node: s.node }))];
  const pathIndex = new Map(plan.entries.map((e, i) => [e.path, i]));
  order.sort((a, b) => (pathIndex.get(a.node.path) ?? 0) - (pathIndex.get(b.node.path) ?? 0));
  const skippedRows = new Map(plan.skips.map((s) => [s.row.id, s.row]));
  for (const { id, node } of order) {
    const token = tokens.get(id);
    const skipped = skippedRows.get(id);
    workspaces.push({
      id,
      name: node.name,
      path: node.path,
      tier: skipped ? skipped.tier : (node.input.tier ?? 3),
      status: skipped ? skipped.status : (statusOf.get(id) ?? 'provisioning'),
      ...(skipped ? { skipped: true as const } : {}),
      ...(token ? { auth_token: token.plaintext, token_id: token.id } : {}),
      ...(channels.get(id)?.created.length ? { channels: channels.get(id)!.created } : {}),
      ...(channels.get(id)?.skipped.length ? { channels_skipped: channels.get(id)!.skipped } : {}),
      ...(plugins.has(id) ? { plugins_installed: plugins.get(id)!.install.map((i) => i.plugin.name) } : {}),
      ...(plugins.get(id)?.skipped.length ? { plugins_skipped: plugins.get(id)!.skipped } : {}),
    });
  }
  const error = failures.length > 0 ? `${failures.length} runtime(s) failed to start: ${failures.map((f) => `${f.path}: ${f.error}`).join('; ')}` : undefined;
  const body: OrgImportResponse = {
    org: desired.org,
    workspaces,
    count: workspaces.length,
    created_count: plan.creates.length,
    skipped_count: plan.skips.length,
    mode,
    ...(mode === 'reconcile' ? { reconcile_removed_count: plan.removals.length, removed: plan.removals.map((r) => ({ id: r.row.id, name: r.row.name, path: r.path })) } : {}),
    ...(error ? { error } : {}),
  };
  await deps.events.recordAfterCommit('org.import.completed', null, {
    ...eventBase,
    created_count: plan.creates.length,
    skipped_count: plan.skips.length,
    reconcile_removed_count: plan.removals.length,
    reconcile_errors: [],
    duration_ms: Date.now() - started,
    create_error: error ?? null,
  });
  return { status: error ? 207 : 201, body };
}

async function statuses(deps: ImportDeps, ids: string[]) {
  if (ids.length === 0) return [];
  return deps.db.selectFrom('workspaces').select(['id', 'status', 'last_error']).where('id', 'in', ids).execute();
}

/**
 * After the commit: externals announce themselves; every other new workspace's runtime is started, a bounded number
 * at a time. Returns the ones that could not start (marked failed by the lifecycle, with its message).
 */
async function startRuntimes(deps: ImportDeps, plan: Plan): Promise<Array<{ path: string; error: string }>> {
  const external = plan.creates.filter((c) => c.node.input.external);
  for (const c of external) {
    await deps.events.recordAfterCommit(c.node.input.url ? 'WORKSPACE_ONLINE' : 'WORKSPACE_AWAITING_AGENT', c.id, { name: c.node.name });
  }
  const runs = plan.creates.filter((c) => !c.node.input.external);
  if (!deps.lifecycle.hasProvisioner) {
    for (const c of runs) {
      const { input } = c.node;
      await deps.events.recordAfterCommit('WORKSPACE_PROVISIONING', c.id, { name: c.node.name, tier: input.tier, runtime: input.runtime, reason: 'org import' });
    }
    return [];
  }
  const queue = [...runs];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const id = next.id;
      try {
        await deps.lifecycle.provision(id, 'org import');
      } catch (err) {
        // The records are committed: a database outage only delays the start (retried in the background).
        if (isDatastoreOutage(err)) deps.lifecycle.provisionInBackground(id, 'org import');
        else deps.log.error({ err, workspace_id: id }, 'org import: runtime not started');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.config.MOLECULE_PROVISION_CONCURRENCY, queue.length) }, worker));
  const failed = (await statuses(deps, runs.map((c) => c.id))).filter((r) => r.status === 'failed');
  const pathOf = new Map(runs.map((c) => [c.id, c.node.path]));
  return failed.map((r) => ({ path: pathOf.get(r.id) ?? r.id, error: r.last_error ?? 'failed' }));
}
