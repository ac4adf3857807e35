import type { Kysely } from 'kysely';
import { GENERATE_KEY_HINT, SecretCipher, SecretDecryptionError, SecretKeyConfigError } from '../../core/crypto/cipher.js';
import { loadTenantConfig } from '../config.js';
import { openTenantDatabase } from '../database.js';
import type { TenantSchema } from '../db/schema.js';
import { channelConfigAad } from '../channels/store.js';
import { globalSecretAad, workspaceSecretAad } from './store.js';

/**
 * `molecule-platform secrets rotate-key`: re-encrypts every stored secret not yet under SECRETS_ENCRYPTION_KEY.
 *
 * The rollout without downtime (DESIGN.md §3): (1) restart the tenants with SECRETS_ENCRYPTION_KEY = the new key and
 * SECRETS_ENCRYPTION_KEYS_PREVIOUS = the old one(s): they write with the new key and read both; (2) run this
 * command; (3) drop the old keys from SECRETS_ENCRYPTION_KEYS_PREVIOUS. Rows are moved in batches, one transaction
 * each, and each row only if its ciphertext is still the one we decrypted (compare-and-set), so a value written
 * concurrently by a running tenant is never overwritten with an older one. Running it again moves nothing.
 * (The embedded PGlite is single-process: stop that tenant first; on PostgreSQL the tenants keep serving.)
 */

export interface RotateOptions {
  /** Rows per transaction. */
  batchSize?: number;
}

export interface RotateFailure {
  /** `workspace:<id>:<KEY>` or `global:<KEY>`. */
  row: string;
  keyId: string;
  reason: string;
}

export interface RotateResult {
  currentKeyId: string;
  /** Rows re-encrypted to the current key. */
  moved: number;
  workspaceRows: number;
  globalRows: number;
  /** Channel configs (webhook URLs, bot tokens, signing secrets: channels/store.ts), sealed like secrets. */
  channelRows: number;
  /** Rows changed or deleted by someone else between our read and our write; they need no move (or a re-run). */
  skipped: number;
  /** Rows that could not be decrypted with any configured key; left untouched. */
  failed: RotateFailure[];
}

interface StoredRow {
  ciphertext: string;
  key_id: string;
}

/** Re-encrypts one row if it still holds `row.ciphertext`. False when a concurrent write or delete got there first. */
export async function reencryptWorkspaceSecretRow(
  db: Kysely<TenantSchema>,
  cipher: SecretCipher,
  row: StoredRow & { workspace_id: string; key: string },
): Promise<boolean> {
  const aad = workspaceSecretAad(row.workspace_id, row.key);
  const sealed = cipher.encrypt(cipher.decrypt({ ciphertext: row.ciphertext, keyId: row.key_id }, aad), aad);
  const res = await db
    .updateTable('workspace_secrets')
    .set({ ciphertext: sealed.ciphertext, key_id: sealed.keyId })
    .where('workspace_id', '=', row.workspace_id)
    .where('key', '=', row.key)
    .where('ciphertext', '=', row.ciphertext)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function reencryptGlobalSecretRow(db: Kysely<TenantSchema>, cipher: SecretCipher, row: StoredRow & { key: string }): Promise<boolean> {
  const aad = globalSecretAad(row.key);
  const sealed = cipher.encrypt(cipher.decrypt({ ciphertext: row.ciphertext, keyId: row.key_id }, aad), aad);
  const res = await db
    .updateTable('global_secrets')
    .set({ ciphertext: sealed.ciphertext, key_id: sealed.keyId })
    .where('key', '=', row.key)
    .where('ciphertext', '=', row.ciphertext)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/**
 * Moves every row whose key_id is not the cipher's current one. Pages by primary key (keyset), so a row that cannot
 * move (unknown key, concurrent change) is passed over rather than read again forever.
 */
export async function reencryptSecrets(db: Kysely<TenantSchema>, cipher: SecretCipher, opts: RotateOptions = {}): Promise<RotateResult> {
  const batchSize = opts.batchSize ?? 200;
  const current = cipher.currentKeyId;
  const result: RotateResult = { currentKeyId: current, moved: 0, workspaceRows: 0, globalRows: 0, channelRows: 0, skipped: 0, failed: [] };

  const attempt = async (label: string, keyId: string, move: () => Promise<boolean>): Promise<'moved' | 'skipped' | 'failed'> => {
    // Decrypt failures are about the data, not the transaction: record them and keep going.
    let moved: boolean;
    try {
      moved = await move();
    } catch (err) {
      if (!(err instanceof SecretDecryptionError)) throw err;
      result.failed.push({ row: label, keyId, reason: err.message });
      return 'failed';
    }
    return moved ? 'moved' : 'skipped';
  };

  let wsAfter: { workspace_id: string; key: string } | null = null;
  for (;;) {
    let q = db
      .selectFrom('workspace_secrets')
      .select(['workspace_id', 'key', 'ciphertext', 'key_id'])
      .where('key_id', '<>', current)
      .orderBy('workspace_id')
      .orderBy('key')
      .limit(batchSize);
    if (wsAfter) {
      const after = wsAfter;
      q = q.where((eb) => eb(eb.refTuple('workspace_id', 'key'), '>', eb.tuple(after.workspace_id, after.key)));
    }
    const rows = await q.execute();
    if (rows.length === 0) break;
    const outcomes = await db.transaction().execute(async (trx) => {
      const out: Array<'moved' | 'skipped' | 'failed'> = [];
      for (const row of rows) {
        out.push(await attempt(workspaceSecretAad(row.workspace_id, row.key), row.key_id, () => reencryptWorkspaceSecretRow(trx, cipher, row)));
      }
      return out;
    });
    tally(result, outcomes, 'workspaceRows');
    const last = rows[rows.length - 1]!; // rows is non-empty here
    wsAfter = { workspace_id: last.workspace_id, key: last.key };
  }

  let globalAfter: string | null = null;
  for (;;) {
    let q = db.selectFrom('global_secrets').select(['key', 'ciphertext', 'key_id']).where('key_id', '<>', current).orderBy('key').limit(batchSize);
    if (globalAfter !== null) q = q.where('key', '>', globalAfter);
    const rows = await q.execute();
    if (rows.length === 0) break;
    const outcomes = await db.transaction().execute(async (trx) => {
      const out: Array<'moved' | 'skipped' | 'failed'> = [];
      for (const row of rows) out.push(await attempt(globalSecretAad(row.key), row.key_id, () => reencryptGlobalSecretRow(trx, cipher, row)));
      return out;
    });
    tally(result, outcomes, 'globalRows');
    globalAfter = rows[rows.length - 1]!.key; // rows is non-empty here
  }

  let channelAfter: string | null = null;
  for (;;) {
    let q = db.selectFrom('channels').select(['id', 'config_ciphertext', 'config_key_id']).where('config_key_id', '<>', current).orderBy('id').limit(batchSize);
    if (channelAfter !== null) q = q.where('id', '>', channelAfter);
    const rows = await q.execute();
    if (rows.length === 0) break;
    const outcomes = await db.transaction().execute(async (trx) => {
      const out: Array<'moved' | 'skipped' | 'failed'> = [];
      for (const row of rows) {
        out.push(
          await attempt(channelConfigAad(row.id), row.config_key_id, async () => {
            const aad = channelConfigAad(row.id);
            const sealed = cipher.encrypt(cipher.decrypt({ ciphertext: row.config_ciphertext, keyId: row.config_key_id }, aad), aad);
            const res = await trx
              .updateTable('channels')
              .set({ config_ciphertext: sealed.ciphertext, config_key_id: sealed.keyId })
              .where('id', '=', row.id)
              .where('config_ciphertext', '=', row.config_ciphertext)
              .executeTakeFirst();
            return Number(res.numUpdatedRows) === 1;
          }),
        );
      }
      return out;
    });
    tally(result, outcomes, 'channelRows');
    channelAfter = rows[rows.length - 1]!.id; // rows is non-empty here
  }
  return result;
}

function tally(result: RotateResult, outcomes: Array<'moved' | 'skipped' | 'failed'>, table: 'workspaceRows' | 'globalRows' | 'channelRows') {
  for (const o of outcomes) {
    if (o === 'moved') {
      result.moved++;
      result[table]++;
    } else if (o === 'skipped') result.skipped++;
  }
}

/** The command: the tenant's own environment (same database settings), SECRETS_ENCRYPTION_KEY = the new key. */
export async function rotateSecretsKey(env: Record<string, string | undefined> = process.env, opts: RotateOptions = {}): Promise<RotateResult> {
  const config = loadTenantConfig(env);
  if (!config.SECRETS_ENCRYPTION_KEY) {
    throw new SecretKeyConfigError(
      `set SECRETS_ENCRYPTION_KEY to the new key (${GENERATE_KEY_HINT}) and SECRETS_ENCRYPTION_KEYS_PREVIOUS to the old one(s) (the embedded default's is in <MOLECULE_DATA_DIR>/secrets.key), then run this again`,
    );
  }
  const cipher = SecretCipher.fromConfig(config);
  const database = await openTenantDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.MOLECULE_DATA_DIR, poolSize: 2 });
  try {
    return await reencryptSecrets(database.db, cipher, opts);
  } finally {
    await database.close();
  }
}

/** The command's report: one line, plus one per row it could not move. */
export function describeRotation(r: RotateResult): string {
  const lines = [
    `re-encrypted ${r.moved} secret row(s) to key id ${r.currentKeyId} (workspace: ${r.workspaceRows}, global: ${r.globalRows}, channel configs: ${r.channelRows}); ` +
      `${r.skipped} changed concurrently and left as written; ${r.failed.length} could not be decrypted`,
  ];
  for (const f of r.failed) lines.push(`  ${f.row} (key id ${f.keyId}): ${f.reason}`);
  if (r.failed.length > 0) lines.push('add the missing key(s) to SECRETS_ENCRYPTION_KEYS_PREVIOUS and run this again');
  return lines.join('\n');
}
