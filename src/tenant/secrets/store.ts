import { sql, type Kysely } from 'kysely';
import { describeReservedEnvNames, isReservedEnvName } from '../../core/compute/reserved-env.js';
import { SecretDecryptionError, type SecretCipher } from '../../core/crypto/cipher.js';
import { ValidationError } from '../../core/errors.js';
import type { TenantSchema } from '../db/schema.js';
import { SECRET_KEY_MAX, SECRET_KEY_PATTERN } from './schemas.js';

/**
 * Queries for workspace_secrets and global_secrets. Every function takes a Kysely, which may be a caller's
 * Transaction (Transaction extends Kysely), so a multi-table write stays one transaction.
 */

export type SecretScope = 'workspace' | 'global';

/** A secret as lists show it: metadata only. Nothing in this module ever returns a value to a route. */
export interface SecretMeta {
  key: string;
  created_at: Date;
  updated_at: Date;
}

/**
 * The AAD that binds a ciphertext to its row: a value copied to another key, workspace or scope fails to decrypt
 * (the reference had no AAD, spec §6.1). Workspace ids are stored lowercase; keep it that way here.
 */
export function workspaceSecretAad(workspaceId: string, key: string): string {
  return `workspace:${workspaceId.toLowerCase()}:${key}`;
}

export function globalSecretAad(key: string): string {
  return `global:${key}`;
}

/** One or more stored secrets could not be decrypted; no partial environment is ever returned (spec §3.7). */
export class SecretsUnreadableError extends SecretDecryptionError {
  constructor(
    /** `global:KEY` / `workspace:KEY`, as the reference reports `failed_keys`. */
    readonly failedKeys: string[],
    readonly causes: Error[],
  ) {
    super(`${failedKeys.length} secret(s) failed to decrypt (${failedKeys.join(', ')}): ${causes[0]?.message ?? 'unknown error'}`);
  }
}

/**
 * A secret becomes the agent's environment, so names the platform owns (NODE_OPTIONS, RUNTIME_COMMAND, PATH, …; see
 * core/compute/reserved-env.ts) are refused on every write: 400 naming the key. `field` is the request field that
 * carried it (`key` on the secrets routes, `secrets` on POST /workspaces). Old rows with such names are dropped when a
 * process starts.
 */
export function assertSecretKeysAllowed(keys: Iterable<string>, field: 'key' | 'secrets'): void {
  for (const key of keys) {
    if (isReservedEnvName(key)) {
      throw new ValidationError(`secret key ${key} is reserved by the platform`, {
        field,
        key,
        detail: `reserved names: ${describeReservedEnvNames()}`,
      });
    }
  }
}

export async function listWorkspaceSecretMeta(db: Kysely<TenantSchema>, workspaceId: string): Promise<SecretMeta[]> {
  return db
    .selectFrom('workspace_secrets')
    .select(['key', 'created_at', 'updated_at'])
    .where('workspace_id', '=', workspaceId)
    .orderBy('key', 'asc')
    .execute();
}

export async function listGlobalSecretMeta(db: Kysely<TenantSchema>): Promise<SecretMeta[]> {
  return db.selectFrom('global_secrets').select(['key', 'created_at', 'updated_at']).orderBy('key', 'asc').execute();
}

/** Encrypts and upserts several workspace secrets (POST /workspaces `secrets`, the secrets routes), inside the caller's transaction. */
export async function upsertWorkspaceSecrets(
  db: Kysely<TenantSchema>,
  cipher: SecretCipher,
  workspaceId: string,
  secrets: Record<string, string>,
): Promise<void> {
  const id = workspaceId.toLowerCase();
  const keyPattern = new RegExp(SECRET_KEY_PATTERN);
  // Defence in depth: whatever the route validated, a key that cannot be an environment variable is never stored.
  for (const key of Object.keys(secrets)) {
    if (!keyPattern.test(key) || key.length > SECRET_KEY_MAX) throw new ValidationError(`invalid secret key: ${key}`, { field: 'secrets', key });
  }
  assertSecretKeysAllowed(Object.keys(secrets), 'secrets');
  const rows = Object.entries(secrets).map(([key, value]) => {
    const sealed = cipher.encrypt(value, workspaceSecretAad(id, key));
    return { workspace_id: id, key, ciphertext: sealed.ciphertext, key_id: sealed.keyId };
  });
  if (rows.length === 0) return;
  await db
    .insertInto('workspace_secrets')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['workspace_id', 'key']).doUpdateSet((eb) => ({
        ciphertext: eb.ref('excluded.ciphertext'),
        key_id: eb.ref('excluded.key_id'),
        updated_at: sql<Date>`now()`,
      })),
    )
    .execute();
}

export async function upsertGlobalSecret(db: Kysely<TenantSchema>, cipher: SecretCipher, key: string, value: string): Promise<void> {
  assertSecretKeysAllowed([key], 'key');
  const sealed = cipher.encrypt(value, globalSecretAad(key));
  await db
    .insertInto('global_secrets')
    .values({ key, ciphertext: sealed.ciphertext, key_id: sealed.keyId })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet((eb) => ({
        ciphertext: eb.ref('excluded.ciphertext'),
        key_id: eb.ref('excluded.key_id'),
        updated_at: sql<Date>`now()`,
      })),
    )
    .execute();
}

/** True when a row was deleted. */
export async function deleteWorkspaceSecret(db: Kysely<TenantSchema>, workspaceId: string, key: string): Promise<boolean> {
  const res = await db.deleteFrom('workspace_secrets').where('workspace_id', '=', workspaceId.toLowerCase()).where('key', '=', key).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export async function deleteGlobalSecret(db: Kysely<TenantSchema>, key: string): Promise<boolean> {
  const res = await db.deleteFrom('global_secrets').where('key', '=', key).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/**
 * The environment a workspace's process gets: org-wide secrets, overridden by the workspace's own (spec §6.3).
 * Any value that fails to decrypt throws SecretsUnreadableError naming every failed key: a process must never start
 * with a silently incomplete environment.
 */
export async function resolveWorkspaceEnv(db: Kysely<TenantSchema>, cipher: SecretCipher, workspaceId: string): Promise<Record<string, string>> {
  const id = workspaceId.toLowerCase();
  // Sequential, not Promise.all: `db` may be a transaction, which is one connection.
  const globals = await db.selectFrom('global_secrets').select(['key', 'ciphertext', 'key_id']).orderBy('key').execute();
  const own = await db.selectFrom('workspace_secrets').select(['key', 'ciphertext', 'key_id']).where('workspace_id', '=', id).orderBy('key').execute();
  // A Map, turned into an object at the end with Object.fromEntries (own data properties): no key can reach a prototype.
  const env = new Map<string, string>();
  const failedKeys: string[] = [];
  const causes: Error[] = [];
  const open = (scope: SecretScope, row: { key: string; ciphertext: string; key_id: string }, aad: string) => {
    try {
      env.set(row.key, cipher.decrypt({ ciphertext: row.ciphertext, keyId: row.key_id }, aad));
    } catch (err) {
      failedKeys.push(`${scope}:${row.key}`);
      causes.push(err as Error);
    }
  };
  for (const row of globals) open('global', row, globalSecretAad(row.key));
  for (const row of own) open('workspace', row, workspaceSecretAad(id, row.key));
  if (failedKeys.length > 0) throw new SecretsUnreadableError(failedKeys, causes);
  return Object.fromEntries(env);
}
