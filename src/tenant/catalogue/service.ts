import { sql, type Kysely } from 'kysely';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import type { Principal } from '../../core/auth/principal.js';
import { DomainError } from '../../core/errors.js';
import type { TenantContext } from '../context.js';
import type { TenantSchema } from '../db/schema.js';
import { deleteWorkspaceSecret, upsertWorkspaceSecrets, workspaceSecretAad } from '../secrets/store.js';

/** The secret a workspace's model lives in (reference §3.7: EO's key). */
export const MODEL_SECRET_KEY = 'MODEL';

async function lockLiveWorkspace(db: Kysely<TenantSchema>, id: string): Promise<{ model: string | null }> {
  const row = await db.selectFrom('workspaces').select(['id', 'model']).where('id', '=', id).where('status', '<>', 'removed').forUpdate().executeTakeFirst();
  if (!row) throw new DomainError('WORKSPACE_NOT_FOUND');
  return row;
}

/** GET /workspaces/:id/model: the MODEL secret, else the model the workspace was created with, else unresolved. */
export async function readModel(ctx: Pick<TenantContext, 'db' | 'cipher'>, id: string): Promise<{ model: string; source: 'workspace_secrets' | 'workspace' | 'unresolved' }> {
  const ws = await ctx.db.selectFrom('workspaces').select('model').where('id', '=', id).where('status', '<>', 'removed').executeTakeFirst();
  if (!ws) throw new DomainError('WORKSPACE_NOT_FOUND');
  const row = await ctx.db.selectFrom('workspace_secrets').select(['ciphertext', 'key_id']).where('workspace_id', '=', id).where('key', '=', MODEL_SECRET_KEY).executeTakeFirst();
  if (row) return { model: ctx.cipher.decrypt({ ciphertext: row.ciphertext, keyId: row.key_id }, workspaceSecretAad(id, MODEL_SECRET_KEY)), source: 'workspace_secrets' };
  if (ws.model) return { model: ws.model, source: 'workspace' };
  return { model: '', source: 'unresolved' };
}

/**
 * PUT /workspaces/:id/model: the MODEL secret and the workspace's `model` column together, with the audit event, in
 * one transaction; then the workspace restarts so its process gets the new environment (reference §3.7).
 */
export async function writeModel(
  ctx: Pick<TenantContext, 'db' | 'cipher' | 'events' | 'lifecycle'>,
  id: string,
  model: string,
  audit: AuditEventInput,
): Promise<{ status: 'cleared' } | { status: 'saved'; model: string }> {
  await ctx.db.transaction().execute(async (trx) => {
    await lockLiveWorkspace(trx, id);
    if (model === '') await deleteWorkspaceSecret(trx, id, MODEL_SECRET_KEY);
    else await upsertWorkspaceSecrets(trx, ctx.cipher, id, { [MODEL_SECRET_KEY]: model });
    await trx.updateTable('workspaces').set({ model: model === '' ? null : model, updated_at: sql<Date>`now()` }).where('id', '=', id).execute();
    await appendAuditEvents(trx, [audit]);
  });
  if (model === '') await ctx.events.recordAfterCommit('SECRET_DELETED', id, { key: MODEL_SECRET_KEY, scope: 'workspace' });
  else await ctx.events.recordAfterCommit('SECRET_SET', id, { key: MODEL_SECRET_KEY, scope: 'workspace', value_hash: ctx.cipher.valueHash(model) });
  ctx.lifecycle.secretsChanged({ workspaceIds: [id] });
  return model === '' ? { status: 'cleared' } : { status: 'saved', model };
}

/** POST /admin/workspaces/:id/revoke-auth-tokens: every live token of the workspace (API and instance), audited with it. */
export async function revokeAllWorkspaceTokens(db: Kysely<TenantSchema>, id: string, audit: AuditEventInput): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    await lockLiveWorkspace(trx, id);
    const revoked = await trx
      .updateTable('workspace_tokens')
      .set({ revoked_at: sql<Date>`now()` })
      .where('workspace_id', '=', id)
      .where('revoked_at', 'is', null)
      .returning('id')
      .execute();
    await appendAuditEvents(trx, [audit]);
    return revoked.map((r) => r.id);
  });
}

/** PUT /canvas/viewport: the one saved viewport, with its audit event. */
export async function saveViewport(db: Kysely<TenantSchema>, principal: Principal, v: { x: number; y: number; zoom: number }, audit: AuditEventInput) {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('canvas_viewport')
      .values({ id: 1, x: v.x, y: v.y, zoom: v.zoom, updated_by: principal.actor })
      .onConflict((oc) => oc.column('id').doUpdateSet({ x: v.x, y: v.y, zoom: v.zoom, updated_by: principal.actor, updated_at: sql<Date>`now()` }))
      .returning(['x', 'y', 'zoom', 'updated_at'])
      .executeTakeFirstOrThrow();
    await appendAuditEvents(trx, [audit]);
    return row;
  });
}
