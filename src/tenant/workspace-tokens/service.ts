import { sql, type Kysely } from 'kysely';
import type { Principal } from '../../core/auth/principal.js';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { mintCredential } from '../../core/credentials/format.js';
import { DomainError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { TenantSchema } from '../db/schema.js';
import { countLiveWorkspaceTokens, insertWorkspaceToken, revokeWorkspaceToken, type WorkspaceTokenRow } from './store.js';

/** The reference's cap on live tokens per workspace (§3.10). */
export const MAX_LIVE_WORKSPACE_TOKENS = 50;

export async function mintWorkspaceToken(
  db: Kysely<TenantSchema>,
  principal: Principal,
  workspaceId: string,
  audit: AuditEventInput,
): Promise<{ row: WorkspaceTokenRow; plaintext: string }> {
  return db.transaction().execute(async (trx) => {
    // Lock the workspace row so concurrent mints cannot both see 49 and end at 51.
    const ws = await sql<{ id: string }>`select id from workspaces where id = ${workspaceId} and status <> 'removed' for update`.execute(trx);
    if (ws.rows.length === 0) throw new DomainError('WORKSPACE_NOT_FOUND');
    if ((await countLiveWorkspaceTokens(trx, workspaceId)) >= MAX_LIVE_WORKSPACE_TOKENS) throw new DomainError('TOKEN_LIMIT');
    const minted = mintCredential('workspaceToken');
    const row = await insertWorkspaceToken(trx, {
      id: newId('workspaceToken'),
      workspace_id: workspaceId,
      token_hash: minted.hash,
      prefix: minted.displayPrefix,
      kind: 'api',
      created_by: principal.actor,
    });
    await appendAuditEvents(trx, [audit]);
    return { row, plaintext: minted.plaintext };
  });
}

export async function revokeWorkspaceTokenById(db: Kysely<TenantSchema>, workspaceId: string, tokenId: string, audit: AuditEventInput): Promise<void> {
  await db.transaction().execute(async (trx) => {
    if (!(await revokeWorkspaceToken(trx, workspaceId, tokenId))) throw new DomainError('TOKEN_NOT_FOUND');
    await appendAuditEvents(trx, [audit]);
  });
}
