import type { Kysely } from 'kysely';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { DomainError } from '../../core/errors.js';
import type { TenantContext } from '../context.js';
import type { TenantSchema } from '../db/schema.js';
import type { EventType } from '../events/bus.js';
import type { SecretsChange } from '../workspaces/lifecycle-api.js';
import {
  assertSecretKeysAllowed,
  deleteGlobalSecret,
  deleteWorkspaceSecret,
  listGlobalSecretMeta,
  listWorkspaceSecretMeta,
  upsertGlobalSecret,
  upsertWorkspaceSecrets,
  type SecretScope,
} from './store.js';

/**
 * Secret writes: the row and its audit event in one transaction; after commit, a SECRET_SET / SECRET_DELETED event
 * (key, scope and a keyed value hash — never the value) and the lifecycle's restart of the affected workspaces.
 */

type SecretsDeps = Pick<TenantContext, 'db' | 'cipher' | 'events' | 'lifecycle' | 'log'>;

/**
 * The workspace must exist and not be removed. `for share` holds off a concurrent removal (which updates the row)
 * until this transaction commits, so a secret is never written after its workspace went away.
 */
async function lockLiveWorkspace(db: Kysely<TenantSchema>, workspaceId: string): Promise<void> {
  const row = await db.selectFrom('workspaces').select('id').where('id', '=', workspaceId).where('status', '<>', 'removed').forShare().executeTakeFirst();
  if (!row) throw new DomainError('WORKSPACE_NOT_FOUND');
}

export async function requireLiveWorkspace(db: Kysely<TenantSchema>, workspaceId: string): Promise<void> {
  const row = await db.selectFrom('workspaces').select('id').where('id', '=', workspaceId).where('status', '<>', 'removed').executeTakeFirst();
  if (!row) throw new DomainError('WORKSPACE_NOT_FOUND');
}

/** The merged list a workspace sees (spec §3.7): its own keys, then the org-wide keys it does not shadow. */
export async function listSecretsForWorkspace(db: Kysely<TenantSchema>, workspaceId: string) {
  await requireLiveWorkspace(db, workspaceId);
  const own = await listWorkspaceSecretMeta(db, workspaceId);
  const globals = await listGlobalSecretMeta(db);
  const shadowed = new Set(own.map((r) => r.key));
  return [
    ...own.map((r) => ({ ...r, scope: 'workspace' as const })),
    ...globals.filter((r) => !shadowed.has(r.key)).map((r) => ({ ...r, scope: 'global' as const })),
  ];
}

async function afterCommit(deps: SecretsDeps, type: EventType, workspaceId: string | null, payload: Record<string, unknown>, change: SecretsChange) {
  // The change is committed: a failure to record the event must not turn it into an error for the caller, nor
  // stop the restart that gives the workspaces their new environment (both wait out a database outage).
  await deps.events.recordAfterCommit(type, workspaceId, payload);
  deps.lifecycle.secretsChanged(change);
}

export async function setWorkspaceSecret(deps: SecretsDeps, workspaceId: string, key: string, value: string, audit: AuditEventInput): Promise<void> {
  assertSecretKeysAllowed([key], 'key');
  await deps.db.transaction().execute(async (trx) => {
    await lockLiveWorkspace(trx, workspaceId);
    await upsertWorkspaceSecrets(trx, deps.cipher, workspaceId, { [key]: value });
    await appendAuditEvents(trx, [audit]);
  });
  const scope: SecretScope = 'workspace';
  await afterCommit(deps, 'SECRET_SET', workspaceId, { key, scope, value_hash: deps.cipher.valueHash(value) }, { workspaceIds: [workspaceId] });
}

export async function removeWorkspaceSecret(deps: SecretsDeps, workspaceId: string, key: string, audit: AuditEventInput): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    await lockLiveWorkspace(trx, workspaceId);
    if (!(await deleteWorkspaceSecret(trx, workspaceId, key))) throw new DomainError('SECRET_NOT_FOUND');
    await appendAuditEvents(trx, [audit]);
  });
  const scope: SecretScope = 'workspace';
  await afterCommit(deps, 'SECRET_DELETED', workspaceId, { key, scope }, { workspaceIds: [workspaceId] });
}

export async function setGlobalSecret(deps: SecretsDeps, key: string, value: string, audit: AuditEventInput): Promise<void> {
  assertSecretKeysAllowed([key], 'key');
  await deps.db.transaction().execute(async (trx) => {
    await upsertGlobalSecret(trx, deps.cipher, key, value);
    await appendAuditEvents(trx, [audit]);
  });
  const scope: SecretScope = 'global';
  await afterCommit(deps, 'SECRET_SET', null, { key, scope, value_hash: deps.cipher.valueHash(value) }, { globalKey: key });
}

export async function removeGlobalSecret(deps: SecretsDeps, key: string, audit: AuditEventInput): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    if (!(await deleteGlobalSecret(trx, key))) throw new DomainError('SECRET_NOT_FOUND');
    await appendAuditEvents(trx, [audit]);
  });
  const scope: SecretScope = 'global';
  await afterCommit(deps, 'SECRET_DELETED', null, { key, scope }, { globalKey: key });
}
