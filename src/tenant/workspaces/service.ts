import type { Insertable, Kysely } from 'kysely';
import { scopeCovers, type Principal } from '../../core/auth/principal.js';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { mintCredential } from '../../core/credentials/format.js';
import { isUniqueViolation } from '../../core/db/index.js';
import { DomainError, ValidationError } from '../../core/errors.js';
import { newId, newUuid } from '../../core/ids.js';
import type { TenantSchema, WorkspaceTokensTable, WorkspacesTable } from '../db/schema.js';
import type { TenantContext } from '../context.js';
import { assertSecretKeysAllowed, upsertWorkspaceSecrets } from '../secrets/store.js';
import { requireTemplate } from '../templates/service.js';
import { revokeAllWorkspaceTokens } from '../workspace-tokens/store.js';
import { firstFreeName, getWorkspace, insertWorkspace, insertWorkspaceTokens, liveChildren, liveSubtreeIds, markRemoved, type WorkspaceRow } from './store.js';

export interface CreateWorkspaceInput {
  name: string;
  role?: string | null | undefined;
  tier?: number | undefined;
  runtime?: string | undefined;
  template?: string | null | undefined;
  model?: string | null | undefined;
  parent_id?: string | null | undefined;
  external?: boolean | undefined;
  url?: string | null | undefined;
  delivery_mode?: string | undefined;
  workspace_dir?: string | null | undefined;
  workspace_access?: string | undefined;
  budget_limit?: number | null | undefined;
  secrets?: Record<string, string> | undefined;
  max_concurrent_tasks?: number | undefined;
  llm_provider?: string | null | undefined;
  compute?: Record<string, unknown> | undefined;
  canvas?: { x: number; y: number } | undefined;
  initial_memories?: Array<{ content: string; scope?: string | undefined }> | undefined;
  /** More keys for the workspace's stored config (org import: prompts, plugins from its template). */
  extraConfig?: Record<string, unknown> | undefined;
}

/** System directories a workspace may never be pointed at (reference §3.1 rule 6). */
const SYSTEM_DIRS = ['/etc', '/var', '/proc', '/sys', '/dev', '/boot', '/sbin', '/bin', '/lib', '/usr'];

/** Characters the reference refuses in names and roles (validateWorkspaceFields, §3.1). */
const FORBIDDEN_NAME_CHARS = /[\n\r{}[\]|>*&!]/;

export function checkFields(input: CreateWorkspaceInput) {
  const bad = (field: string, detail: string) => new ValidationError('invalid workspace fields', { field, detail });
  if (input.name.trim() === '') throw new ValidationError('invalid workspace payload', { field: 'name', detail: 'name must not be blank' });
  if (FORBIDDEN_NAME_CHARS.test(input.name)) throw bad('name', 'name must not contain newlines or any of {}[]|>*&!');
  if (Buffer.byteLength(input.name) > 255) throw bad('name', 'name must be at most 255 bytes');
  if (input.role && FORBIDDEN_NAME_CHARS.test(input.role)) throw bad('role', 'role must not contain newlines or any of {}[]|>*&!');
  if (input.template && (input.template.startsWith('/') || input.template.split(/[\\/]/).includes('..'))) {
    throw new ValidationError('invalid template', { field: 'template', detail: 'template must be a folder name, not a path' });
  }
  if (input.workspace_dir) {
    const dir = input.workspace_dir;
    const inSystem = SYSTEM_DIRS.some((d) => dir === d || dir.startsWith(`${d}/`));
    if (!dir.startsWith('/') || dir.split('/').includes('..') || inSystem) {
      throw new ValidationError('invalid workspace directory', { field: 'workspace_dir', detail: 'an absolute path outside system directories, without ..' });
    }
  }
  if (input.workspace_access !== undefined && !['none', 'read_only', 'read_write'].includes(input.workspace_access)) {
    throw new ValidationError('invalid workspace access', { field: 'workspace_access', detail: 'one of none, read_only, read_write' });
  }
  if (input.workspace_access && input.workspace_access !== 'none' && !input.workspace_dir) {
    throw new ValidationError('invalid workspace access', { field: 'workspace_access', detail: 'read_only and read_write need a workspace_dir' });
  }
  if (input.delivery_mode !== undefined && input.delivery_mode !== 'push' && input.delivery_mode !== 'poll') {
    throw new ValidationError("delivery_mode must be 'push' or 'poll'", { field: 'delivery_mode' });
  }
}

/**
 * The row a create inserts for `input` (already checked by checkFields): the one place a workspace's stored shape is
 * derived from a create request, shared by POST /workspaces and org import (which inserts many in one transaction).
 */
export function workspaceRowFor(input: CreateWorkspaceInput, at: { id: string; parentId: string | null; name: string }): Insertable<WorkspacesTable> {
  return {
    id: at.id,
    name: at.name,
    role: input.role ?? null,
    tier: input.tier ?? 3,
    runtime: input.runtime ?? '',
    template: input.template ?? null,
    model: input.model ?? null,
    parent_id: at.parentId,
    external: input.external ?? false,
    status: input.external ? (input.url ? 'online' : 'awaiting_agent') : 'provisioning',
    url: input.url ?? '',
    delivery_mode: (input.delivery_mode as 'push' | 'poll' | undefined) ?? 'push',
    workspace_dir: input.workspace_dir ?? null,
    workspace_access: (input.workspace_access as 'none' | 'read_only' | 'read_write' | undefined) ?? 'none',
    budget_limit: input.budget_limit ?? null,
    budget_limits: JSON.stringify(input.budget_limit === undefined || input.budget_limit === null ? {} : { monthly: input.budget_limit }),
    max_concurrent_tasks: input.max_concurrent_tasks ?? 1,
    config: JSON.stringify({
      ...(input.compute ? { compute: input.compute } : {}),
      ...(input.canvas ? { canvas: input.canvas } : {}),
      ...(input.initial_memories ? { initial_memories: input.initial_memories } : {}),
      ...(input.llm_provider ? { llm_provider: input.llm_provider } : {}),
      ...(input.extraConfig ?? {}),
    }),
  };
}

/** A new workspace's first API token: the row to insert and the plaintext (shown once, never stored). */
export function apiTokenFor(workspaceId: string, actor: string): { row: Insertable<WorkspaceTokensTable>; token: CreatedWorkspace['token'] } {
  const minted = mintCredential('workspaceToken');
  const id = newId('workspaceToken');
  return {
    row: { id, workspace_id: workspaceId, token_hash: minted.hash, prefix: minted.displayPrefix, kind: 'api', created_by: actor },
    token: { id, plaintext: minted.plaintext, prefix: minted.displayPrefix },
  };
}

export interface CreatedWorkspace {
  workspace: WorkspaceRow;
  token: { id: string; plaintext: string; prefix: string };
}

/**
 * Creates the record, its secrets and its first API token in one transaction, with the audit event; then hands
 * the workspace to the lifecycle (which starts its runtime) — or, for an external agent, waits for it.
 */
export async function createWorkspace(
  ctx: Pick<TenantContext, 'db' | 'cipher' | 'lifecycle' | 'events'>,
  principal: Principal,
  input: CreateWorkspaceInput,
  audit: AuditEventInput,
): Promise<CreatedWorkspace> {
  checkFields(input);
  assertSecretKeysAllowed(Object.keys(input.secrets ?? {}), 'secrets');
  const parentId = input.parent_id ? input.parent_id.toLowerCase() : null;
  const created = await insertWithToken(ctx, principal, input, parentId, audit);
  const ws = created.workspace;
  if (ws.external) {
    // After commit: the workspace exists; its event never turns the create into an error (see recordAfterCommit).
    await ctx.events.recordAfterCommit(ws.status === 'online' ? 'WORKSPACE_ONLINE' : 'WORKSPACE_AWAITING_AGENT', ws.id, { name: ws.name });
  } else if (ctx.lifecycle.hasProvisioner) {
    // The create is acknowledged now; the runtime starts in the background (waiting out a database outage if need be).
    ctx.lifecycle.provisionInBackground(ws.id, 'created');
  } else {
    await ctx.events.recordAfterCommit('WORKSPACE_PROVISIONING', ws.id, { name: ws.name, tier: ws.tier, runtime: ws.runtime, reason: 'created' });
  }
  return created;
}

async function insertWithToken(
  ctx: Pick<TenantContext, 'db' | 'cipher'>,
  principal: Principal,
  input: CreateWorkspaceInput,
  parentId: string | null,
  audit: AuditEventInput,
): Promise<CreatedWorkspace> {
  const { db } = ctx;
  // A concurrent create can take the same free name between our read and insert; the unique index catches it
  // and we try again with the next free name.
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction().execute(async (trx) => {
        if (parentId && !(await getWorkspace(trx, parentId))) {
          throw new ValidationError('parent workspace not found', { field: 'parent_id' });
        }
        // A template that does not exist is refused before anything is written (the reference commits the row and
        // then fails to provision it, §10.20); the share lock holds off a concurrent DELETE of the template.
        // Runtime and model come from the template's config.yaml when the request leaves them empty (reference §3.1 step 4).
        let runtime = input.runtime ?? '';
        let model = input.model ?? null;
        if (input.template) {
          const config = await requireTemplate(trx, input.template, true);
          if (!runtime && config.runtime) runtime = config.runtime;
          if (!model && config.model) model = config.model;
        }
        const name = await firstFreeName(trx, parentId, input.name);
        if (name === null) throw new DomainError('CONFLICT', 'workspace name already in use; please pick a different name', { field: 'name' });
        const workspace = await insertWorkspace(trx, workspaceRowFor({ ...input, runtime, model }, { id: newUuid(), parentId, name }));
        if (input.secrets && Object.keys(input.secrets).length > 0) await upsertWorkspaceSecrets(trx, ctx.cipher, workspace.id, input.secrets);
        const { row: tokenRow, token } = apiTokenFor(workspace.id, principal.actor);
        await insertWorkspaceTokens(trx, [tokenRow]);
        await appendAuditEvents(trx, [audit]);
        return { workspace, token };
      });
    } catch (err) {
      if (isUniqueViolation(err) && attempt < 5) continue;
      throw err;
    }
  }
}

export interface RemoveOptions {
  confirmName?: string | undefined;
  cascade: boolean;
  /** The caller's workspace binding (null: unbound). */
  scope: readonly string[] | null;
}

/**
 * Marks the workspace and its live descendants removed and revokes every token they hold, in one transaction.
 * Their tokens then fail at the very next request (the lookup also joins on status).
 *
 * A bound caller removes a workspace with descendants only when it can see all of them; otherwise 404, before the
 * 409 that would list them (issue 7, item 4).
 */
export async function removeWorkspace(db: Kysely<TenantSchema>, id: string, opts: RemoveOptions, audit: AuditEventInput): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    const ws = await getWorkspace(trx, id);
    if (!ws) throw new DomainError('WORKSPACE_NOT_FOUND');
    const ids = await liveSubtreeIds(trx, id);
    if (!scopeCovers(opts.scope, ids)) throw new DomainError('WORKSPACE_NOT_FOUND');
    if (opts.confirmName !== undefined && opts.confirmName !== ws.name) {
      throw new ValidationError('destructive_action_requires_confirmation', {
        hint: 'Re-send the same request with header X-Confirm-Name: <name>',
        workspace_name: ws.name,
      });
    }
    const children = await liveChildren(trx, id);
    if (children.length > 0 && !opts.cascade) {
      throw new DomainError('CONFIRMATION_REQUIRED', 'This workspace has sub-workspaces. Delete with ?confirm=true to cascade delete.', {
        status: 'confirmation_required',
        children,
        children_count: children.length,
      });
    }
    await markRemoved(trx, ids);
    await revokeAllWorkspaceTokens(trx, ids);
    await appendAuditEvents(trx, [audit]);
    return ids;
  });
}
