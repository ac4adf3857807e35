import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { SecretCipher } from '../../core/crypto/cipher.js';
import type { TenantSchema } from '../db/schema.js';
import { globalSecretAad, workspaceSecretAad } from './store.js';

/**
 * The boot half of migration VALUE_HASH_MIGRATION_ID (db/migrations.ts). Stored SECRET_SET events from before it
 * carry the reference's unkeyed hash, now in `legacy_value_hash`. Only the value a secret has *now* can be decrypted,
 * so: where the current value still hashes to the legacy hash, the event gets the keyed `value_hash` of that value
 * (it keeps matching later events of the same value); otherwise (an older value, a deleted secret, a row no configured
 * key opens) the hash is dropped. It runs once the tenant listens; until it is done the bus leaves the moved-aside
 * hash out of every event it reads (bus.ts), so the unkeyed hash is never served.
 *
 * Runs at every boot and finds nothing after the first (an index scan over an empty partial index). Concurrent
 * replicas do the same idempotent updates.
 */
export async function upgradeLegacyValueHashes(db: Kysely<TenantSchema>, cipher: SecretCipher, log: Pick<Logger, 'info' | 'warn'>): Promise<{ rehashed: number; dropped: number }> {
  const rows = await db
    .selectFrom('workspace_events')
    .select(['id', 'workspace_id', 'payload'])
    .where(sql<boolean>`payload ? 'legacy_value_hash'`)
    .orderBy('id')
    .execute();
  if (rows.length === 0) return { rehashed: 0, dropped: 0 };
  /** The current value of each secret, decrypted at most once: undefined = unknown, null = gone or unreadable. */
  const current = new Map<string, string | null>();
  const valueOf = async (scope: unknown, workspaceId: string | null, key: string): Promise<string | null> => {
    const id = `${String(scope)}:${workspaceId ?? ''}:${key}`;
    if (current.has(id)) return current.get(id) ?? null;
    let value: string | null = null;
    try {
      if (scope === 'workspace' && workspaceId) {
        const row = await db.selectFrom('workspace_secrets').select(['ciphertext', 'key_id']).where('workspace_id', '=', workspaceId).where('key', '=', key).executeTakeFirst();
        if (row) value = cipher.decrypt({ ciphertext: row.ciphertext, keyId: row.key_id }, workspaceSecretAad(workspaceId, key));
      } else if (scope === 'global') {
        const row = await db.selectFrom('global_secrets').select(['ciphertext', 'key_id']).where('key', '=', key).executeTakeFirst();
        if (row) value = cipher.decrypt({ ciphertext: row.ciphertext, keyId: row.key_id }, globalSecretAad(key));
      }
    } catch {
      value = null; // a row no configured key opens: the hash cannot be recomputed, so it is dropped
    }
    current.set(id, value);
    return value;
  };

  let rehashed = 0;
  let dropped = 0;
  for (const row of rows) {
    const payload = row.payload;
    const legacy = payload['legacy_value_hash'];
    const key = payload['key'];
    const value = typeof key === 'string' ? await valueOf(payload['scope'], row.workspace_id, key) : null;
    const matches = value !== null && typeof legacy === 'string' && legacy === createHash('sha256').update(value, 'utf8').digest('hex').slice(0, legacy.length);
    const { legacy_value_hash: _legacy, ...rest } = payload;
    const next = matches ? { ...rest, value_hash: cipher.valueHash(value) } : rest;
    if (matches) rehashed++;
    else dropped++;
    await db.updateTable('workspace_events').set({ payload: JSON.stringify(next) }).where('id', '=', row.id).execute();
  }
  log.info({ rehashed, dropped }, 'secret events: replaced unkeyed value hashes (keyed where the current value matched, dropped otherwise)');
  return { rehashed, dropped };
}
