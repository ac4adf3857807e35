import type { Kysely } from 'kysely';
import { canSeeWorkspace, type Principal } from '../../core/auth/principal.js';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { isUniqueViolation } from '../../core/db/index.js';
import { DomainError } from '../../core/errors.js';
import { isUuid, newUuid } from '../../core/ids.js';
import type { TenantContext } from '../context.js';
import type { TenantSchema } from '../db/schema.js';
import { firstFreeName, getWorkspace, insertWorkspace, type WorkspaceRow } from '../workspaces/store.js';
import { bundlePartsOf } from './files.js';
import { DEFAULT_BUNDLE_VERSION, planImport, type BundleMetadata, type PlannedNode } from './plan.js';
import type { BundleExport, BundleImportResult, BundleNode } from './schemas.js';
import { insertWorkspaceFiles, liveChildRows, workspaceOwnFiles } from './store.js';
import { currentTemplateFiles } from '../templates/store.js';

// ---------------------------------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------------------------------

function metadataOf(row: WorkspaceRow): Partial<BundleMetadata> {
  const bundle = (row.config as Record<string, unknown> | null)?.['bundle'];
  return bundle !== null && typeof bundle === 'object' ? (bundle as Partial<BundleMetadata>) : {};
}

/** Children created in one import share created_at: the import's recorded order breaks the tie. */
function exportOrder(a: WorkspaceRow, b: WorkspaceRow): number {
  const t = new Date(a.created_at).getTime() - new Date(b.created_at).getTime();
  if (t !== 0) return t;
  const pa = metadataOf(a).position ?? Number.MAX_SAFE_INTEGER;
  const pb = metadataOf(b).position ?? Number.MAX_SAFE_INTEGER;
  return pa - pb || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

async function exportNode(db: Kysely<TenantSchema>, principal: Principal, row: WorkspaceRow, seen: Set<string>): Promise<BundleExport> {
  seen.add(row.id);
  const meta = metadataOf(row);
  // The template's files, overlaid by the workspace's own (which win).
  const files = { ...(await currentTemplateFiles(db, row.template)), ...(await workspaceOwnFiles(db, row.id)) };
  const children = (await liveChildRows(db, row.id)).filter((c) => canSeeWorkspace(principal, c.id) && !seen.has(c.id)).sort(exportOrder);
  const subWorkspaces: BundleExport[] = [];
  for (const child of children) subWorkspaces.push(await exportNode(db, principal, child, seen));
  return {
    schema: '1.0',
    id: row.id,
    name: row.name,
    description: row.role ?? '',
    tier: row.tier,
    model: row.model ?? '',
    ...bundlePartsOf(files, Array.isArray(meta.skills) ? meta.skills : []),
    tools: Array.isArray(meta.tools) ? meta.tools : [],
    sub_workspaces: subWorkspaces,
    agent_card: row.agent_card ?? null,
    author: typeof meta.author === 'string' ? meta.author : '',
    version: typeof meta.version === 'string' ? meta.version : DEFAULT_BUNDLE_VERSION,
  };
}

/**
 * The workspace as a bundle, with its live sub-workspaces the caller can see. As the reference: the root is exported
 * even when removed, and every "not there" is one 404 `bundle not found`. Secrets, tokens and memory are never read.
 */
export async function exportBundle(db: Kysely<TenantSchema>, principal: Principal, id: string): Promise<BundleExport> {
  const wanted = id.toLowerCase();
  if (!isUuid(wanted) || !canSeeWorkspace(principal, wanted)) throw new DomainError('BUNDLE_NOT_FOUND');
  const root = await getWorkspace(db, wanted, true);
  if (!root) throw new DomainError('BUNDLE_NOT_FOUND');
  return exportNode(db, principal, root, new Set());
}

// ---------------------------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------------------------

interface Created {
  plan: PlannedNode;
  workspace: WorkspaceRow;
  result: BundleImportResult;
}

async function insertTree(db: Kysely<TenantSchema>, root: PlannedNode, audit: AuditEventInput): Promise<Created[]> {
  return db.transaction().execute(async (trx) => {
    const created: Created[] = [];
    // Parents before children; siblings in bundle order (names are deduplicated in that order).
    const queue: Array<{ plan: PlannedNode; parentId: string | null; parent: BundleImportResult | null }> = [{ plan: root, parentId: null, parent: null }];
    for (let i = 0; i < queue.length; i++) {
      const { plan, parentId, parent } = queue[i]!;
      const name = await firstFreeName(trx, parentId, plan.name);
      if (name === null) throw new DomainError('CONFLICT', 'workspace name already in use; please pick a different name', { field: plan.where ? `${plan.where}.name` : 'name' });
      const workspace = await insertWorkspace(trx, {
        id: newUuid(),
        name,
        role: plan.role,
        tier: plan.tier,
        runtime: plan.runtime,
        template: null,
        model: plan.model,
        parent_id: parentId,
        status: 'provisioning',
        budget_limits: '{}',
        budget_limit: null,
        llm_billing_mode: null,
        workspace_dir: null,
        current_task: null,
        last_error: null,
        agent_card: plan.agentCard === null ? null : JSON.stringify(plan.agentCard),
        config: JSON.stringify({ bundle: plan.metadata }),
      });
      await insertWorkspaceFiles(trx, workspace.id, plan.files);
      const result: BundleImportResult = { workspace_id: workspace.id, name: workspace.name, status: 'provisioning' };
      if (parent) (parent.children ??= []).push(result);
      created.push({ plan, workspace, result });
      for (const child of plan.children) queue.push({ plan: child, parentId: workspace.id, parent: result });
    }
    await appendAuditEvents(trx, [audit]);
    return created;
  });
}

/**
 * Creates the bundle's workspaces — rows, files and metadata, with the audit event — in one transaction, after the
 * whole tree has been checked; then starts their runtimes as POST /workspaces does. No workspace token is minted
 * (the reference returns none): each runtime gets its own instance token when it is provisioned, and a caller
 * mints API tokens with POST /workspaces/:id/tokens.
 */
export async function importBundle(
  ctx: Pick<TenantContext, 'db' | 'lifecycle' | 'events'>,
  principal: Principal,
  bundle: BundleNode,
  audit: AuditEventInput,
): Promise<BundleImportResult> {
  const plan = planImport(bundle);
  // The agent command is what a workspace runs: as with templates (admin-only writes), only an admin brings one.
  const withCommand = findNode(plan, (n) => n.hasCommand);
  if (withCommand && principal.role !== 'admin') {
    throw new DomainError('ROLE_FORBIDDEN', `a bundle whose config.yaml names an agent command needs the admin role (this credential is ${principal.role})`, {
      role: principal.role,
      required_role: 'admin',
      field: withCommand.where ? `${withCommand.where}.prompts["config.yaml"]` : 'prompts["config.yaml"]',
    });
  }
  let created: Created[];
  // A concurrent create can take a free name between our read and insert; the unique index catches it and the
  // whole import is tried again (nothing of the failed attempt remains).
  for (let attempt = 0; ; attempt++) {
    try {
      created = await insertTree(ctx.db, plan, audit);
      break;
    } catch (err) {
      if (isUniqueViolation(err) && attempt < 5) continue;
      throw err;
    }
  }
  for (const { workspace, plan: node } of created) {
    if (ctx.lifecycle.hasProvisioner) ctx.lifecycle.provisionInBackground(workspace.id, 'imported');
    else {
      await ctx.events.recordAfterCommit('WORKSPACE_PROVISIONING', workspace.id, {
        name: workspace.name,
        tier: workspace.tier,
        runtime: workspace.runtime,
        source_bundle_id: node.metadata.source_bundle_id,
        reason: 'imported',
      });
    }
  }
  return created[0]!.result;
}

function findNode(node: PlannedNode, test: (n: PlannedNode) => boolean): PlannedNode | undefined {
  if (test(node)) return node;
  for (const child of node.children) {
    const found = findNode(child, test);
    if (found) return found;
  }
  return undefined;
}
