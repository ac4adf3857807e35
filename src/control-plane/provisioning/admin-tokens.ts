import type { Kysely, Transaction } from 'kysely';
import { hashCredential, isWellFormed, mintCredential } from '../../core/credentials/format.js';
import type { SecretCipher } from '../../core/crypto/cipher.js';
import type { ControlPlaneSchema } from '../db/schema.js';

type Db = Kysely<ControlPlaneSchema> | Transaction<ControlPlaneSchema>;

/**
 * The tenant admin token (`molt_…`, DESIGN.md §4; reference §3.4): the tenant's break-glass ADMIN_TOKEN, its bearer
 * for the tenant callbacks (/cp/tenants/*) and its `X-Molecule-Admin-Token` on the provisioning API.
 *
 * Safer than the reference's plaintext column: at rest it is AES-256-GCM under the CP's key, bound to its row (aad),
 * and a presented token is found by its sha256 — one indexed equality, no decryption, no plaintext comparison.
 * It is minted and stored before the tenant is started (reference invariant: a tenant must never call back with a
 * token the CP does not know yet).
 */
export class TenantAdminTokens {
  constructor(
    private readonly db: Kysely<ControlPlaneSchema>,
    private readonly cipher: SecretCipher,
  ) {}

  private static aad(orgId: string): string {
    return `org-instance:${orgId}:admin-token`;
  }

  /** Mints a new token for the org and stores it (replacing any previous one, which stops matching at once). */
  async mint(orgId: string, db: Db = this.db): Promise<string> {
    const minted = mintCredential('tenantAdminToken');
    const sealed = this.cipher.encrypt(minted.plaintext, TenantAdminTokens.aad(orgId));
    const result = await db
      .updateTable('org_instances')
      .set({ admin_token_ciphertext: sealed.ciphertext, admin_token_key_id: sealed.keyId, admin_token_hash: minted.hash, updated_at: new Date() })
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) throw new Error(`org ${orgId} has no instance row to hold its admin token`);
    return minted.plaintext;
  }

  /** The org's current token in plaintext (for the tenant's environment, or a CP admin who asks); null until minted. */
  async reveal(orgId: string, db: Db = this.db): Promise<string | null> {
    const row = await db.selectFrom('org_instances').select(['admin_token_ciphertext', 'admin_token_key_id']).where('org_id', '=', orgId).executeTakeFirst();
    if (!row?.admin_token_ciphertext || !row.admin_token_key_id) return null;
    return this.cipher.decrypt({ ciphertext: row.admin_token_ciphertext, keyId: row.admin_token_key_id }, TenantAdminTokens.aad(orgId));
  }

  /**
   * The org a presented token belongs to, or null. A string that is not a well-formed `molt_` token is refused
   * offline, before any query.
   */
  async orgOf(presented: string | undefined, db: Db = this.db): Promise<{ orgId: string; slug: string } | null> {
    if (!presented || !isWellFormed('tenantAdminToken', presented)) return null;
    const row = await db
      .selectFrom('org_instances as i')
      .innerJoin('organizations as o', 'o.id', 'i.org_id')
      .select(['o.id as orgId', 'o.slug as slug'])
      .where('i.admin_token_hash', '=', hashCredential(presented))
      .executeTakeFirst();
    return row ?? null;
  }
}
